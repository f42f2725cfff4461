"""Hypothesis properties of bulk window planning (streams/bulk_windows.py ``_plan`` and
``exact_count``, over shopify/extract.py ``plan_windows``), against a model store whose
count query answers like Shopify's, capped counts (``AT_LEAST``) included.

A plan covers the asked range exactly: every record in exactly one window, windows in
order, none overlapping, none empty, each counted exactly and within the record budget
unless it is a single second that cannot be split.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tap_shopify_history.exceptions import ShopifySyncError
from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.extract import Window, format_time, parse_time
from tap_shopify_history.streams.base import EntityStream
from tap_shopify_history.streams.bulk_windows import BulkWindowStream

BASE = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = 10 * 24 * 3600  # ten days of seconds
PROPERTY = settings(max_examples=80, deadline=None)
SEARCH_TERM = re.compile(r"updated_at:(>=|<)'([^']+)'")


def at(second: int) -> str:
    return format_time(BASE + timedelta(seconds=second))


def second_of(text: str) -> int:
    return int((parse_time(text) - BASE).total_seconds())


@dataclass
class CountingShop:
    """Answers the stream's count and edge queries from a list of ``updatedAt`` seconds."""

    seconds: list[int]
    count_cap: int
    counted: list[Window] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seconds = sorted(self.seconds)

    def holding(self, start: int | None, end: int | None) -> int:
        low = 0 if start is None else bisect.bisect_left(self.seconds, start)
        high = len(self.seconds) if end is None else bisect.bisect_left(self.seconds, end)
        return max(0, high - low)

    def execute(self, document: str, variables: dict[str, Any], **_: Any) -> dict[str, Any]:
        search = variables.get("query") or ""
        bounds = {op: second_of(value) for op, value in SEARCH_TERM.findall(search)}
        if document == queries.ORDERS_COUNT:
            self.counted.append(Window(*(bounds.get(op) for op in (">=", "<"))))
            total = self.holding(bounds.get(">="), bounds.get("<"))
            precision = "AT_LEAST" if total > self.count_cap else "EXACT"
            return {"ordersCount": {"count": min(total, self.count_cap), "precision": precision}}
        newest_first = "reverse: true" in document
        picked = self.seconds[-1:] if newest_first else self.seconds[:1]
        return {"orders": {"nodes": [{"updatedAt": at(s)} for s in picked]}}


@dataclass
class Session:
    client: CountingShop
    run_end: str = field(default_factory=lambda: at(SPAN + 1))

    def window_end(self, end_date: str | None = None) -> str:
        return self.run_end


class PlanningStream:
    """Just the planning part of a bulk stream: its own methods over a model store."""

    name = "orders"
    entity = "orders"
    count_document = queries.ORDERS_COUNT
    count_field = "ordersCount"
    _plan = BulkWindowStream._plan
    exact_count = BulkWindowStream.exact_count
    _edge_time = BulkWindowStream._edge_time
    _count = EntityStream._count
    _config_int = EntityStream._config_int

    def __init__(self, shop: CountingShop, max_records: int) -> None:
        self.session = Session(shop)
        self.config = {"bulk_window_max_records": max_records}

    def search_terms(self) -> tuple[str, ...]:
        return ("test:false",)


def seconds_lists(max_size: int = 120) -> st.SearchStrategy[list[int]]:
    # Spread over ten days, with bursts in a few seconds (a bulk import, a price change).
    anywhere = st.integers(0, SPAN)
    bursts = st.sampled_from([0, 1, 7, 3600, SPAN // 2, SPAN])
    return st.lists(st.one_of(anywhere, bursts), min_size=1, max_size=max_size).flatmap(
        lambda picked: st.just(picked * 3) | st.just(picked)
    )


@st.composite
def asked_windows(draw: st.DrawFn) -> Window:
    start = draw(st.one_of(st.none(), st.integers(0, SPAN)))
    end = draw(st.one_of(st.none(), st.integers(0 if start is None else start + 1, SPAN + 2)))
    return Window(None if start is None else at(start), None if end is None else at(end))


def inside(second: int, window: Window) -> bool:
    after_start = window.start is None or second >= second_of(window.start)
    before_end = window.end is None or second < second_of(window.end)
    return after_start and before_end


def bounded_count(shop: CountingShop, window: Window) -> int:
    return shop.holding(
        None if window.start is None else second_of(window.start),
        None if window.end is None else second_of(window.end),
    )


@PROPERTY
@given(
    seconds=seconds_lists(),
    max_records=st.integers(1, 12),
    count_cap=st.sampled_from([10_000, 20, 3]),
    asked=asked_windows(),
)
def test_a_plan_covers_the_window_exactly_within_the_budget(seconds, max_records, count_cap, asked):
    shop = CountingShop(seconds, count_cap)
    stream = PlanningStream(shop, max_records)
    plan = stream._plan(asked)
    parts = [part for part, _ in plan]
    # Every record of the asked window is in exactly one part, and no part reaches outside.
    for second in shop.seconds:
        holders = [part for part in parts if inside(second, part)]
        assert len(holders) == (1 if inside(second, asked) else 0), (second, parts)
    # In order, not overlapping; the last part stays open when the asked window is.
    for earlier, later in itertools.pairwise(parts):
        assert earlier.end is not None
        assert later.start is not None
        assert earlier.end <= later.start
    if parts and asked.end is None:
        assert parts[-1].end is None
    if parts and asked.start is not None:
        assert parts[0].start is not None
        assert parts[0].start >= asked.start
    over_cap = {s for s in set(shop.seconds) if shop.seconds.count(s) > count_cap}
    for part, counted in plan:
        closed = part if part.end is not None else Window(part.start, at(shop.seconds[-1] + 1))
        true_count = bounded_count(shop, closed)
        assert true_count > 0  # empty windows are dropped
        if true_count <= count_cap:
            # Exact, even where Shopify capped the counts of the windows around it.
            assert counted == true_count
        # The job holds at most the budget, unless it is one second: Shopify cannot split it.
        if true_count > max_records:
            assert closed.start is not None
            assert second_of(closed.end) - second_of(closed.start) < 2, (part, counted)
    if not over_cap & {s for s in shop.seconds if inside(s, asked)}:
        assert sum(counted for _, counted in plan) == bounded_count(shop, asked)


@PROPERTY
@given(seconds=seconds_lists(), max_records=st.integers(1, 150))
def test_a_window_is_split_only_when_it_holds_more_than_the_budget(seconds, max_records):
    shop = CountingShop(seconds, 10_000)
    asked = Window(at(0), at(SPAN + 1))
    plan = PlanningStream(shop, max_records)._plan(asked)
    total = len(seconds)
    if total <= max_records:
        assert plan == ([(asked, total)] if total else [])
    # Every window the planner counted was split from one that held more than the budget.
    counted = {
        Window(at(w.start), at(w.end))
        for w in shop.counted
        if w.start is not None and w.end is not None
    }
    for window in counted:
        halves = window.split() or ()
        for half in halves:
            if half in counted:
                assert bounded_count(shop, window) > max_records, (window, half)


@PROPERTY
@given(
    seconds=seconds_lists(),
    count_cap=st.sampled_from([10_000, 9, 2]),
    asked=asked_windows(),
)
def test_an_exact_count_is_the_true_count_however_shopify_caps_it(seconds, count_cap, asked):
    shop = CountingShop(seconds, count_cap)
    stream = PlanningStream(shop, 25)
    # Everything the run can see ends at its window end; later changes are the next run's.
    seen = Window(asked.start, asked.end or stream.session.run_end)
    burst = max((seconds.count(s) for s in set(seconds) if inside(s, seen)), default=0)
    if burst > count_cap:
        # More records in one second than Shopify counts exactly: refused, never guessed.
        with pytest.raises(ShopifySyncError, match="cannot be split"):
            stream.exact_count(asked)
    else:
        assert stream.exact_count(asked) == bounded_count(shop, asked)


@pytest.mark.parametrize(
    ("seconds", "max_records", "count_cap", "expected"),
    [
        ([], 5, 10_000, []),
        ([0, 1, 2], 3, 10_000, [((0, SPAN + 1), 3)]),
        ([0, 1, 2, 3], 3, 10_000, [((0, 3), 3), ((3, 6), 1)]),
        ([7] * 9, 3, 10_000, [((7, 8), 9)]),
        ([0, SPAN], 1, 10_000, [((0, SPAN // 2), 1), ((SPAN // 2, SPAN + 1), 1)]),
        ([0, 1, 2], 5, 2, [((0, 1), 1), ((1, 3), 2)]),
    ],
    ids=[
        "empty store: no job",
        "exactly the budget: one job",
        "one over: halved until each part fits",
        "one second over the budget: one job, it cannot be split",
        "far apart: one job each, split no further",
        "a capped count is split until it is exact",
    ],
)
def test_plan_table(seconds, max_records, count_cap, expected):
    shop = CountingShop(seconds, count_cap)
    plan = PlanningStream(shop, max_records)._plan(Window(at(0), at(SPAN + 1)))
    assert [((second_of(w.start), second_of(w.end)), n) for w, n in plan] == expected
