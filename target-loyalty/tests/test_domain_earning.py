"""Earning, reversals and reconciliation of one order: tables and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from target_loyalty.domain.earning import apply_order, clamp_to_balance, points_for
from target_loyalty.domain.model import (
    EarningBasis,
    EntryKind,
    LedgerEntry,
    LoyaltyRules,
    Order,
    Refund,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
RULES = LoyaltyRules()


def make_order(subtotal: str = "100.00", **changes: object) -> Order:
    base = Order(
        order_id=1,
        customer_id=7,
        created_at=T0,
        updated_at=T0,
        subtotal=Decimal(subtotal),
        total=Decimal(subtotal) + Decimal("12.00"),
        currency="USD",
    )
    return replace(base, **changes)


def refund(rid: int, amount: str, day: int = 2, total: str | None = None) -> Refund:
    return Refund(rid, T0 + timedelta(days=day), Decimal(amount), Decimal(total or amount))


def book(order: Order, rules: LoyaltyRules, ledger: list[LedgerEntry]) -> list[LedgerEntry]:
    """Apply one order version to an in-memory ledger the way storage does."""
    existing = [e for e in ledger if e.order_id == order.order_id]
    outcome = apply_order(order, rules, existing)
    if outcome.reassign_from:
        owner = order.customer_id
        owned = {(e.source, e.kind) for e in ledger if e.customer_id == owner}
        ledger = [
            e
            if e.customer_id not in outcome.reassign_from or e.order_id != order.order_id
            else replace(e, customer_id=owner)
            for e in ledger
            if not (
                e.customer_id in outcome.reassign_from
                and e.order_id == order.order_id
                and (e.source, e.kind) in owned
            )
        ]
    keys = {e.key for e in ledger}
    return ledger + [e for e in outcome.new_entries if e.key not in keys]


def order_points(ledger: list[LedgerEntry], order_id: int = 1) -> int:
    return sum(e.points for e in ledger if e.order_id == order_id)


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [("49.95", "1", 49), ("0.99", "1", 0), ("10.00", "2.5", 25), ("3.33", "3", 9), ("-5", "1", 0)],
)
def test_points_round_down(amount, rate, expected):
    assert points_for(Decimal(amount), Decimal(rate)) == expected


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"customer_id": None}, "customer_id", "guest order"),
        ({"test": True}, "test", "test order"),
        ({"tags": frozenset({"vip", "skip_loyalty"})}, "tags", "skip_loyalty"),
    ],
)
def test_orders_that_earn_nothing_are_counted(changes, field, reason):
    outcome = apply_order(make_order(**changes), RULES, [])
    assert outcome.new_entries == ()
    assert [(d.field, reason in d.reason) for d in outcome.discrepancies] == [(field, True)]


@pytest.mark.parametrize(
    ("basis", "refunds", "expected_net"),
    [
        (EarningBasis.SUBTOTAL, [], 100),
        (EarningBasis.TOTAL, [], 112),
        (EarningBasis.SUBTOTAL, [refund(1, "25.00")], 75),
        (EarningBasis.SUBTOTAL, [refund(1, "33.33"), refund(2, "33.33", day=3)], 33),
        (EarningBasis.SUBTOTAL, [refund(1, "100.00")], 0),
        # A shipping-only refund takes no points on the subtotal basis...
        (EarningBasis.SUBTOTAL, [refund(1, "0", total="5.00")], 100),
        # ...but does on the total basis.
        (EarningBasis.TOTAL, [refund(1, "0", total="5.00")], 107),
        # Refunding more than the basis never reverses more than was earned.
        (EarningBasis.SUBTOTAL, [refund(1, "80.00"), refund(2, "80.00", day=3)], 0),
    ],
)
def test_refunds_reverse_in_proportion(basis, refunds, expected_net):
    rules = LoyaltyRules(earning_basis=basis)
    ledger = book(make_order(refunds=tuple(refunds)), rules, [])
    assert order_points(ledger) == expected_net
    kinds = [e.kind for e in ledger]
    assert kinds.count(EntryKind.EARN) == 1


def test_refund_reversal_is_keyed_by_refund_id():
    ledger = book(make_order(refunds=(refund(55, "10.00"),)), RULES, [])
    assert [(e.source, e.points) for e in ledger if e.kind is EntryKind.REFUND_REVERSAL] == [
        ("refund:55", -10)
    ]


def test_cancellation_reverses_what_remains():
    placed = book(make_order(), RULES, [])
    refunded = book(make_order(refunds=(refund(1, "30.00"),)), RULES, placed)
    cancelled = book(
        make_order(refunds=(refund(1, "30.00"),), cancelled_at=T0 + timedelta(days=4)),
        RULES,
        refunded,
    )
    assert order_points(refunded) == 70
    assert order_points(cancelled) == 0
    assert [e.points for e in cancelled if e.kind is EntryKind.CANCELLATION_REVERSAL] == [-70]


def test_changed_order_gets_one_correcting_row_and_a_discrepancy():
    ledger = book(make_order("100.00"), RULES, [])
    rules = replace(RULES, points_per_unit=Decimal(2))  # a later rule change...
    edited = make_order("80.00", updated_at=T0 + timedelta(days=1))
    outcome = apply_order(edited, rules, ledger)
    # ...does not rewrite history: the stored earn rate (1) still applies.
    assert [(e.kind, e.points) for e in outcome.new_entries] == [(EntryKind.ADJUSTMENT, -20)]
    assert [d.corrected for d in outcome.discrepancies] == [True]


def test_reconcile_off_leaves_booked_orders_alone_but_says_so():
    ledger = book(make_order("100.00"), RULES, [])
    rules = replace(RULES, reconcile_existing_ledger=False)
    outcome = apply_order(make_order("100.00", refunds=(refund(1, "50.00"),)), rules, ledger)
    assert outcome.new_entries == ()
    assert "reconcile_existing_ledger is off" in outcome.discrepancies[0].reason


def test_an_order_moving_to_another_customer_moves_its_rows():
    ledger = book(make_order(), RULES, [])
    moved = book(make_order(customer_id=8, updated_at=T0 + timedelta(days=1)), RULES, ledger)
    assert {e.customer_id for e in moved} == {8}
    assert order_points(moved) == 100


def test_order_becoming_ineligible_is_zeroed():
    ledger = book(make_order(), RULES, [])
    tagged = book(
        make_order(tags=frozenset({"skip_loyalty"}), updated_at=T0 + timedelta(1)), RULES, ledger
    )
    assert order_points(tagged) == 0


def test_clamp_keeps_balances_at_zero_and_remembers_the_rest():
    reversal = LedgerEntry(7, "refund:1", EntryKind.REFUND_REVERSAL, -50, T0, order_id=1)
    [clamped] = clamp_to_balance([reversal], {7: 20})
    assert (clamped.points, clamped.uncollected, clamped.intended_points) == (-20, 30, -50)


# Properties ------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000), places=2)


@st.composite
def order_histories(draw: st.DrawFn) -> list[Order]:
    """Successive versions of one order: refunds pile up, maybe a cancellation at the end."""
    subtotal = draw(amounts)
    rate = draw(st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(3)]))
    del rate
    n = draw(st.integers(0, 4))
    refunds = [
        refund(i + 1, str(draw(st.decimals(Decimal(0), subtotal, places=2))), day=i + 2)
        for i in range(n)
    ]
    versions = [
        make_order(str(subtotal), refunds=tuple(refunds[:k]), updated_at=T0 + timedelta(days=k))
        for k in range(n + 1)
    ]
    if draw(st.booleans()):
        versions.append(
            replace(
                versions[-1], cancelled_at=T0 + timedelta(days=9), updated_at=T0 + timedelta(days=9)
            )
        )
    return versions


@settings(max_examples=60, deadline=None)
@given(order_histories(), st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(3)]))
def test_replaying_any_version_changes_nothing(versions, rate):
    rules = LoyaltyRules(points_per_unit=rate)
    ledger: list[LedgerEntry] = []
    for version in versions:
        ledger = book(version, rules, ledger)
    for version in [versions[-1], *versions[-1:]]:
        assert apply_order(version, rules, ledger).new_entries == ()


@settings(max_examples=60, deadline=None)
@given(order_histories(), st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(3)]))
def test_refunds_never_reverse_more_than_earned(versions, rate):
    rules = LoyaltyRules(points_per_unit=rate)
    ledger: list[LedgerEntry] = []
    for version in versions:
        ledger = book(version, rules, ledger)
        earned = sum(e.points for e in ledger if e.kind is EntryKind.EARN)
        reversed_ = -sum(e.points for e in ledger if e.points < 0)
        assert 0 <= reversed_ <= earned
    final = versions[-1]
    remaining = max(
        Decimal(0), final.subtotal - sum((r.line_subtotal for r in final.refunds), Decimal(0))
    )
    expected = 0 if final.cancelled_at else int(remaining * rate // 1)
    assert order_points(ledger) == expected


@settings(max_examples=40, deadline=None)
@given(order_histories())
def test_skipping_intermediate_versions_gives_the_same_total(versions):
    """Seeing every version or only the last one ends at the same worth (sync cadence)."""
    every: list[LedgerEntry] = []
    for version in versions:
        every = book(version, RULES, every)
    last_only = book(versions[-1], RULES, [])
    assert order_points(every) == order_points(last_only)
