"""Date and time comparisons of the search syntax, with Shopify's sub-second behaviour.

Shopify returns timestamps to the second but stores some with fractional seconds. Before
API version 2026-10, ``updated_at:>'T'`` (no fraction) compares against ``T.000000``, so
records from later in that same second match ``>T`` *and* ``<=T`` and come back showing
``T``; from 2026-10, ``>T`` starts after the end of second T (Shopify changelog
"Exclusive > timestamp filters exclude the full second"). ``>=``, ``<``, ``<=``,
date-only values and values with fractional seconds behave the same on every version.

Records here carry a hidden, deterministic sub-second fraction (``hidden_micros``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

US = 1_000_000
DAY_US = 86_400 * US
FULL_SECOND_VERSION = "2026-10"


class TimeSyntaxError(ValueError):
    """A date value Shopify's search would not understand."""


@dataclass(frozen=True, slots=True)
class TimeValue:
    """A parsed search date: the microseconds it covers and how precise it was."""

    start_us: int
    end_us: int
    kind: str  # "day", "second" or "exact"


def hidden_micros(record_id: int, seconds: int) -> int:
    """A record's stored time in microseconds: the second it shows plus a hidden fraction."""
    fraction = ((record_id * 7919 + seconds * 104_729) % 1000) * 1000
    return seconds * US + fraction


def parse_time(value: str) -> TimeValue:
    """Parse a day (``2024-01-01``), a second or a time with fractional seconds."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2})?", value):
        # A bare day, or what is left of an unquoted time cut at its first colon.
        day = datetime.fromisoformat(value[:10]).replace(tzinfo=UTC)
        start = int(day.timestamp()) * US
        return TimeValue(start, start + DAY_US, "day")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise TimeSyntaxError(f"invalid date {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    start = int(parsed.replace(microsecond=0).timestamp()) * US + parsed.microsecond
    if "." in value:
        return TimeValue(start, start + 1, "exact")
    return TimeValue(start, start + US, "second")


def time_predicate(
    get_us: Callable[[Any], int], op: str, value: TimeValue, version: str
) -> Callable[[Any], bool]:
    """The predicate of one date comparison (``op`` is ``=``, ``>``, ``>=``, ``<``, ``<=``)."""
    start, end = value.start_us, value.end_us
    if op == ">":
        whole_second = value.kind == "second" and version >= FULL_SECOND_VERSION
        return (lambda r: get_us(r) >= end) if whole_second else (lambda r: get_us(r) > start)
    if op == ">=":
        return lambda r: get_us(r) >= start
    if op == "<":
        return lambda r: get_us(r) < start
    if op == "<=":
        return lambda r: get_us(r) < end
    return lambda r: start <= get_us(r) < end


def second_bounds(op: str, value: TimeValue) -> tuple[int | None, int | None]:
    """Conservative whole-second (lower, upper-exclusive) bounds of one comparison."""
    if op.startswith(">"):
        return value.start_us // US, None
    if op.startswith("<"):
        return None, -(-value.end_us // US)
    return value.start_us // US, -(-value.end_us // US)
