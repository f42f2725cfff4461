"""Rows for the tables where a person sees what a run did not apply, and why.

A record the target's reader rejects (``RecordRejected``) becomes a quarantine row: stream,
key, field, reason and the record itself. A line that is no Singer message
(``DeadLetter``) becomes a dead-letter row: its line number, the raw text and the reason.
Every text is one PostgreSQL can store (no NUL) and within its column; the tables and the
run's own columns (run id, shop, time) are the target's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from target_runtime.edge import printable_key
from target_runtime.fields import RecordRejected
from target_runtime.singer_input import DeadLetter

__all__ = ["dead_letter_row", "quarantine_row", "storable_text"]


def storable_text(text: str) -> str:
    """Text PostgreSQL can store: a NUL character is written as the escape ``\\u0000``.

    Args:
        text: Any text.

    Returns:
        The text without NUL characters.
    """
    return text.replace("\x00", "\\u0000")


def quarantine_row(
    rejected: RecordRejected,
    record: Mapping[str, Any],
    *,
    key_chars: int = 255,
    field_chars: int = 255,
) -> dict[str, Any]:
    """A rejected record's quarantine row: stream, record_key, field, reason, payload.

    Args:
        rejected: The reader's rejection.
        record: The record as received (kept as sorted JSON).
        key_chars: The ``record_key`` column's length.
        field_chars: The ``field`` column's length.

    Returns:
        The row's columns; the caller adds its run id, shop and time.
    """
    return {
        "stream": rejected.stream,
        "record_key": printable_key(rejected.key, key_chars),
        "field": printable_key(rejected.field, field_chars),
        "reason": storable_text(rejected.reason),
        "payload": json.dumps(record, default=str, sort_keys=True),
    }


def dead_letter_row(letter: DeadLetter, *, reason_chars: int | None = None) -> dict[str, Any]:
    """A bad input line's dead-letter row: line_number, raw, truncated, reason.

    Args:
        letter: The reader's dead letter.
        reason_chars: The ``reason`` column's bound, if it has one.

    Returns:
        The row's columns; the caller adds its run id and time.
    """
    reason = storable_text(letter.reason)
    return {
        "line_number": letter.line_number,
        "raw": storable_text(letter.raw),
        "truncated": letter.truncated,
        "reason": reason if reason_chars is None else reason[:reason_chars],
    }
