"""Cursor pagination over a sorted id list, the way Shopify's connections behave.

Cursors encode the last sort value and id (base64 JSON ``{"last_id":..,"last_value":..}``,
like Shopify's), not an offset, so they stay correct while records are added, removed or
re-sorted between pages.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

MAX_PAGE_SIZE = 250

SortKey = Callable[[int], tuple[Any, int]]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ids with their cursors and pageInfo flags."""

    items: list[tuple[int, str]]
    has_next: bool
    has_previous: bool


def encode_cursor(key: tuple[Any, int]) -> str:
    """Opaque cursor for a (sort value, id) key."""
    payload = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, int]:
    """Inverse of :func:`encode_cursor`; a malformed cursor is a GraphQL error."""
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return data["last_value"], int(data["last_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from error


def check_page_args(first: int | None, last: int | None) -> int:
    """Shopify's rules: exactly one of first/last, at most 250."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if first is not None and last is not None:
        raise GraphQLError("providing both first and last is not supported")
    size = first if first is not None else last
    assert size is not None
    if size < 0:
        raise GraphQLError("first/last must be a non-negative integer")
    if size > MAX_PAGE_SIZE:
        raise GraphQLError(f"The requested page size is {size}, but the maximum is 250.")
    return size


def paginate(
    ids: Sequence[int],
    key: SortKey,
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    reverse: bool,
    match: Callable[[int], bool] | None = None,
    clip: tuple[Any, Any] | None = None,
) -> Page:
    """Select one page from ``ids`` (sorted ascending by ``key``).

    Args:
        ids: All candidate ids, ascending by key.
        key: (sort value, id) of an id.
        first: Page size from the start of the window.
        last: Page size from the end of the window.
        after: Cursor the window starts after (in view order).
        before: Cursor the window ends before (in view order).
        reverse: Descending view.
        match: Filter (the search query, visibility rules).
        clip: (lowest, above-highest) sort values any match can have, to skip scanning.

    Returns:
        The page.
    """
    size = check_page_args(first, last)
    lo, hi = 0, len(ids)
    for cursor, is_after in ((after, True), (before, False)):
        if cursor is None:
            continue
        ck = _comparable(decode_cursor(cursor))
        if is_after != reverse:  # window starts above the cursor in ascending space
            lo = max(lo, bisect.bisect_right(ids, ck, key=lambda i: _comparable(key(i))))
        else:
            hi = min(hi, bisect.bisect_left(ids, ck, key=lambda i: _comparable(key(i))))
    if clip is not None:
        lo, hi = _clip(ids, key, lo, hi, clip)
    ok = match or (lambda _i: True)
    from_view_start = first is not None
    ascending = from_view_start != reverse
    found = _collect(ids, lo, hi, ascending, size + 1, ok)
    more = len(found) > size
    found = found[:size]
    if not from_view_start:
        found.reverse()
    outside = after if from_view_start else before
    beyond = outside is not None and _any(ids, lo, hi, not ascending, ok)
    items = [(i, encode_cursor(key(i))) for i in found]
    if from_view_start:
        return Page(items, has_next=more, has_previous=beyond)
    return Page(items, has_next=beyond, has_previous=more)


def _clip(
    ids: Sequence[int], key: SortKey, lo: int, hi: int, clip: tuple[Any, Any]
) -> tuple[int, int]:
    low, high = clip
    if low is not None:
        lo = max(lo, bisect.bisect_left(ids, (low, -1), key=lambda i: _comparable(key(i))))
    if high is not None:
        hi = min(hi, bisect.bisect_left(ids, (high, -1), key=lambda i: _comparable(key(i))))
    return lo, max(lo, hi)


def _comparable(key: tuple[Any, int]) -> tuple[Any, int]:
    # Cursor values round-trip through JSON: keep str/int comparable with live keys.
    value, rid = key
    return (value if value is not None else "", rid)


def _collect(  # noqa: PLR0917 - internal helper
    ids: Sequence[int], lo: int, hi: int, ascending: bool, limit: int, ok: Callable[[int], bool]
) -> list[int]:
    found: list[int] = []
    positions = range(lo, hi) if ascending else range(hi - 1, lo - 1, -1)
    for pos in positions:
        rid = ids[pos]
        if ok(rid):
            found.append(rid)
            if len(found) >= limit:
                break
    return found


def _any(ids: Sequence[int], lo: int, hi: int, ascending: bool, ok: Callable[[int], bool]) -> bool:
    # Records outside the window on the side the client came from (bounded scan).
    positions = range(hi, len(ids)) if ascending else range(lo - 1, -1, -1)
    for count, pos in enumerate(positions):
        if ok(ids[pos]):
            return True
        if count > 5000:
            return True  # a huge filtered-out region: assume there is a match, as Shopify hints
    return False
