"""Signup bonus, merges, expiry and retention: tables and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from target_loyalty.domain.lifecycle import (
    expiry_entries,
    plan_merge,
    purge_due,
    signup_entry,
)
from target_loyalty.domain.model import EntryKind, LedgerEntry, LoyaltyRules

NOW = datetime(2025, 6, 1, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("points", "existing_ok", "created", "expected"),
    [
        (100, False, datetime(2024, 6, 1, tzinfo=UTC), 100),  # joined after the start
        (100, False, datetime(2023, 6, 1, tzinfo=UTC), None),  # pre-existing customer
        (100, True, datetime(2023, 6, 1, tzinfo=UTC), 100),
        (0, True, datetime(2024, 6, 1, tzinfo=UTC), None),  # disabled
    ],
)
def test_signup_bonus(points, existing_ok, created, expected):
    rules = LoyaltyRules(signup_bonus_points=points, signup_bonus_existing_customers=existing_ok)
    entry = signup_entry(7, created, START, rules)
    assert (entry.points if entry else None) == expected
    if entry:
        assert entry.key == (7, "signup", EntryKind.SIGNUP_BONUS)


def row(cid, source, kind, points, day=0):
    return LedgerEntry(cid, source, kind, points, START + timedelta(days=day))


def test_merge_keeps_one_signup_and_removes_duplicate_orders():
    loser = [
        row(1, "signup", EntryKind.SIGNUP_BONUS, 50),
        row(1, "order:9", EntryKind.EARN, 30),
        row(1, "order:10", EntryKind.EARN, 20),
    ]
    kept = [row(2, "signup", EntryKind.SIGNUP_BONUS, 50), row(2, "order:10", EntryKind.EARN, 20)]
    plan = plan_merge(1, 2, loser, kept, NOW)
    assert [e.source for e in plan.move] == ["order:9"]
    assert sorted(e.source for e in plan.drop) == ["order:10", "signup"]
    assert plan.audit.kind is EntryKind.MERGE_TRANSFER
    assert plan.audit.points == 0
    assert "1 one-time" in plan.audit.rule


kinds = st.sampled_from([EntryKind.EARN, EntryKind.SIGNUP_BONUS, EntryKind.REFUND_REVERSAL])
entries = st.lists(
    st.tuples(st.integers(1, 8), kinds, st.integers(-100, 300)),
    max_size=10,
    unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=150, deadline=None)
@given(entries, entries)
def test_merge_conserves_points(loser_rows, kept_rows):
    loser = [row(1, f"order:{s}", k, p) for s, k, p in loser_rows]
    kept = [row(2, f"order:{s}", k, p) for s, k, p in kept_rows]
    plan = plan_merge(1, 2, loser, kept, NOW)
    before = sum(e.points for e in loser) + sum(e.points for e in kept)
    after = sum(e.points for e in kept) + plan.moved_points + plan.audit.points
    # Everything the loser had arrives, except duplicates of rows the kept one holds.
    assert after == before - plan.dropped_points
    held = {(e.source, e.kind) for e in kept}
    assert all((e.source, e.kind) in held for e in plan.drop)
    assert len(plan.move) + len(plan.drop) == len(loser)
    # After the merge no (source, kind) appears twice: one-time rows are kept once.
    merged = [(e.source, e.kind) for e in [*kept, *plan.move]]
    assert len(merged) == len(set(merged))


def test_expiry_takes_what_is_left_of_old_lots_fifo():
    rows = [
        row(1, "order:1", EntryKind.EARN, 100, day=0),
        row(1, "order:2", EntryKind.EARN, 50, day=300),
        row(1, "refund:5", EntryKind.REFUND_REVERSAL, -30, day=310),
    ]
    out = expiry_entries(1, rows, START + timedelta(days=366), days=365)
    assert [(e.source, e.points) for e in out] == [("expiry:earn:order:1", -70)]
    # Running again once the expiry is booked adds nothing.
    assert expiry_entries(1, rows + out, START + timedelta(days=366), days=365) == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 200), st.integers(0, 800)), min_size=1, max_size=8),
    st.integers(0, 900),
)
def test_expiry_never_takes_more_than_the_balance(lots, spent):
    rows = [row(1, f"order:{i}", EntryKind.EARN, p, day=d) for i, (p, d) in enumerate(lots)]
    balance = sum(p for p, _ in lots)
    spent = min(spent, balance)
    if spent:
        rows.append(row(1, "refund:1", EntryKind.REFUND_REVERSAL, -spent, day=1))
    out = expiry_entries(1, rows, START + timedelta(days=1200), days=365)
    assert sum(e.points for e in rows + out) == 0  # everything old is gone, never below zero


@pytest.mark.parametrize(
    ("deleted_days_ago", "due"), [(None, False), (10, False), (90, True), (120, True)]
)
def test_purge_after_retention(deleted_days_ago, due):
    deleted = None if deleted_days_ago is None else NOW - timedelta(days=deleted_days_ago)
    assert purge_due(deleted, NOW, 90) is due
