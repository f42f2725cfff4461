"""The pure rules: why a record is left out, exact counts, bulk attempts, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tap_fakes import FakeClock
from tap_shopify_history import settings
from tap_shopify_history.manifest import PartTally
from tap_shopify_history.selection import SelectionRules, window_exclusion
from tap_shopify_history.shopify.bulk import BulkAttempts
from tap_shopify_history.shopify.extract import Window, count_exactly, format_time

RANGE = "2026-06-01T00:00:00Z"


@pytest.mark.parametrize(
    ("rules", "record", "reason"),
    [
        (SelectionRules(), {"test": True, "created_at": RANGE}, "test_order"),
        (SelectionRules(include_test_orders=True), {"test": True, "created_at": RANGE}, None),
        (
            SelectionRules(range_start=RANGE),
            {"test": True, "created_at": "2026-01-01T00:00:00Z"},
            "test_order",
        ),
        (
            SelectionRules(range_start=RANGE),
            {"test": False, "created_at": "2026-05-31T23:59:59Z"},
            "outside_sync_range",
        ),
        (SelectionRules(range_start=RANGE), {"test": False, "created_at": RANGE}, None),
        (SelectionRules(), {"test": False, "created_at": "2000-01-01T00:00:00Z"}, None),
        (SelectionRules(include_test_orders=True), {"created_at": "2000-01-01T00:00:00Z"}, None),
    ],
    ids=[
        "test-order",
        "test-order-wanted",
        "test-before-range-is-test",
        "placed-before-range",
        "placed-at-range-start",
        "no-range",
        "customer",
    ],
)
def test_exclusion(rules, record, reason) -> None:
    assert rules.exclusion(record) == reason


@pytest.mark.parametrize(
    ("updated_at", "lower", "upper", "emitted_before", "reason"),
    [
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z", False, None),
        ("2026-01-02T00:00:00Z", None, None, True, "already_emitted"),
        ("2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z", None, False, "already_emitted"),
        ("2026-01-03T00:00:00Z", None, "2026-01-03T00:00:00Z", False, "outside_window"),
    ],
    ids=["inside", "edge-version-seen", "before-lower", "at-exclusive-end"],
)
def test_window_exclusion(updated_at, lower, upper, emitted_before, reason) -> None:
    assert (
        window_exclusion(updated_at, lower=lower, upper=upper, emitted_before=emitted_before)
        == reason
    )


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("config", "first_start", "range_start"),
    [
        ({}, None, None),
        ({"sync_range": "last_30_days"}, None, format_time(NOW - timedelta(days=30))),
        ({"sync_range": "last_2_years"}, None, format_time(NOW - timedelta(days=730))),
        (
            {"sync_range": "last_30_days", "start_date": "2026-01-01T00:00:00Z"},
            "2026-01-01T00:00:00Z",
            None,
        ),
    ],
    ids=["all-time", "30-days", "2-years", "start-date-wins"],
)
def test_presets_limit_orders_only(config, first_start, range_start) -> None:
    assert settings.first_read_start(config) == first_start  # customers and orders
    assert settings.range_start(config, NOW) == range_start  # orders' created_at


def test_unknown_preset_is_named() -> None:
    with pytest.raises(settings.SettingsError, match="last_week"):
        settings.range_start({"sync_range": "last_week"}, NOW)


@pytest.mark.parametrize(
    ("results", "max_attempts", "gives_up_at"),
    [
        (["bad", "bad", "bad"], 3, 3),
        (["bad", "good", "bad", "bad"], 3, None),
        (["bad"], 1, 1),
    ],
    ids=["three-in-a-row", "progress-resets", "one-attempt"],
)
def test_bulk_attempts_are_bounded_in_a_row(results, max_attempts, gives_up_at) -> None:
    attempts = BulkAttempts(max_attempts=max_attempts, max_wait_seconds=60, clock=FakeClock())
    gave_up = None
    for number, result in enumerate(results, start=1):
        if result == "good":
            attempts.progressed()
        elif attempts.give_up():
            gave_up = number
            break
    assert gave_up == gives_up_at


def test_bulk_attempts_are_bounded_in_time() -> None:
    clock = FakeClock()
    attempts = BulkAttempts(max_attempts=100, max_wait_seconds=60, clock=clock)
    assert attempts.deadline == 60
    assert not attempts.give_up()
    clock.sleep(61)
    assert attempts.give_up()


BASE = datetime(2026, 1, 1, tzinfo=UTC)


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=100_000), max_size=300),
    cap=st.integers(min_value=3, max_value=50),
)
def test_capped_counts_are_split_until_exact(offsets, cap) -> None:
    times = sorted(format_time(BASE + timedelta(seconds=o)) for o in offsets)
    end = format_time(BASE + timedelta(seconds=100_001))

    def count(window: Window) -> tuple[int, bool]:
        n = sum(
            (window.start is None or t >= window.start) and (window.end is None or t < window.end)
            for t in times
        )
        return (cap, False) if n > cap else (n, True)

    most_in_one_second = max((times.count(t) for t in set(times)), default=0)
    if most_in_one_second > cap:
        return  # one second beyond the cap cannot be counted (the tap fails, naming it)
    assert count_exactly(count, Window(None, end), lambda: format_time(BASE)) == len(times)


@given(
    before=st.integers(0, 50),
    changed=st.integers(0, 50),
    excluded=st.integers(0, 50),
)
def test_a_read_between_two_counts_reconciles(before, changed, excluded) -> None:
    # Records that change during a read leave the window: whether read or not, the part
    # reconciles as long as every record read was emitted or excluded.
    changed = min(changed, before)
    excluded = min(excluded, before - changed)
    for read_changed in range(changed + 1):
        tally = PartTally("orders", "window", "", None, None, started_at="2026-01-01T00:00:00Z")
        tally.counted(before, before - changed)
        tally.emitted = before - changed + read_changed - excluded
        for _ in range(excluded):
            tally.exclude("test_order")
        assert tally.reconciles()
