"""Which orders earn: the eligibility rules as a table, and their effect on one order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from target_loyalty.domain.earning import apply_order
from target_loyalty.domain.eligibility import refusal
from target_loyalty.domain.model import EntryKind, LedgerEntry, LoyaltyRules, Order, SkipReason

T0 = datetime(2024, 3, 1, tzinfo=UTC)
RULES = LoyaltyRules()
AWAITING = SkipReason.AWAITING_PAYMENT


def make_order(**changes: object) -> Order:
    base = Order(
        order_id=1,
        customer_id=7,
        created_at=T0,
        updated_at=T0,
        subtotal=Decimal("100.00"),
        total=Decimal("112.00"),
        currency="USD",
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "rules", "reason", "field"),
    [
        ({"financial_status": "PAID"}, RULES, None, None),
        ({"financial_status": "PARTIALLY_REFUNDED"}, RULES, None, None),
        ({"financial_status": "REFUNDED"}, RULES, None, None),
        ({"financial_status": "paid"}, RULES, None, None),
        ({"financial_status": "PENDING"}, RULES, AWAITING, "financial_status"),
        (
            {"financial_status": "AUTHORIZED"},
            RULES,
            SkipReason.AWAITING_PAYMENT,
            "financial_status",
        ),
        (
            {"financial_status": "PARTIALLY_PAID"},
            RULES,
            SkipReason.AWAITING_PAYMENT,
            "financial_status",
        ),
        (
            {"financial_status": "AUTHORIZED"},
            replace(RULES, paid_financial_statuses=frozenset({"PAID", "AUTHORIZED"})),
            None,
            None,
        ),
        ({"financial_status": "VOIDED"}, RULES, SkipReason.NOT_PAID, "financial_status"),
        ({"financial_status": "EXPIRED"}, RULES, SkipReason.NOT_PAID, "financial_status"),
        ({"financial_status": None}, RULES, SkipReason.NOT_PAID, "financial_status"),
        ({"financial_status": "SOMETHING_NEW"}, RULES, SkipReason.NOT_PAID, "financial_status"),
        ({"customer_id": None}, RULES, SkipReason.GUEST_ORDER, "customer_id"),
        ({"test": True}, RULES, SkipReason.TEST_ORDER, "test"),
        ({"test": True, "financial_status": "PENDING"}, RULES, SkipReason.TEST_ORDER, "test"),
        ({"tags": frozenset({"skip_loyalty"})}, RULES, SkipReason.SKIP_TAG, "tags"),
        ({"tags": frozenset({"Skip_Loyalty"})}, RULES, SkipReason.SKIP_TAG, "tags"),
        ({"tags": frozenset({"SKIP_LOYALTY", "vip"})}, RULES, SkipReason.SKIP_TAG, "tags"),
        (
            {"tags": frozenset({"no-points"})},
            replace(RULES, skip_tags=frozenset({"No-Points"})),
            SkipReason.SKIP_TAG,
            "tags",
        ),
        ({"tags": frozenset({"skip_loyalty_later"})}, RULES, None, None),
    ],
    ids=[
        "paid-earns",
        "partially-refunded-earns",
        "refunded-earns",
        "status-case-ignored",
        "pending-awaits-payment",
        "authorized-awaits-payment",
        "partially-paid-awaits-payment",
        "authorized-earns-when-in-setting",
        "voided-never",
        "expired-never",
        "null-status-never",
        "unknown-status-never",
        "guest-order",
        "test-order",
        "test-before-payment",
        "skip-tag",
        "skip-tag-mixed-case",
        "skip-tag-upper-case",
        "skip-tag-setting-mixed-case",
        "longer-tag-is-not-the-skip-tag",
    ],
)
def test_which_orders_earn(changes, rules, reason, field):
    refused = refusal(make_order(**changes), rules)
    assert (refused.reason if refused else None) == reason
    assert (refused.note.field if refused else None) == field


def book(order: Order, ledger: list[LedgerEntry]) -> list[LedgerEntry]:
    outcome = apply_order(order, RULES, [e for e in ledger if e.order_id == order.order_id])
    return ledger + list(outcome.new_entries)


@pytest.mark.parametrize(
    ("statuses", "points", "kinds"),
    [
        (["PENDING"], 0, []),
        (["PENDING", "PAID"], 100, [EntryKind.EARN]),
        (["AUTHORIZED", "PARTIALLY_PAID", "PAID", "PAID"], 100, [EntryKind.EARN]),
        (["VOIDED"], 0, []),
        (["PENDING", "VOIDED"], 0, []),
        (["PAID", "VOIDED"], 0, [EntryKind.EARN, EntryKind.ADJUSTMENT]),
        (["PAID", "PENDING"], 0, [EntryKind.EARN, EntryKind.ADJUSTMENT]),
        (
            ["PAID", "VOIDED", "PAID"],
            100,
            [EntryKind.EARN, EntryKind.ADJUSTMENT, EntryKind.ADJUSTMENT],
        ),
    ],
    ids=[
        "pending-books-nothing",
        "pending-then-paid-earns",
        "replayed-paid-earns-once",
        "voided-never-earns",
        "pending-then-voided-never",
        "leaving-paid-is-reversed",
        "paid-back-to-pending-is-reversed",
        "paid-again-earns-again",
    ],
)
def test_points_follow_the_financial_status(statuses, points, kinds):
    ledger: list[LedgerEntry] = []
    for day, status in enumerate(statuses):
        ledger = book(
            make_order(financial_status=status, updated_at=T0 + timedelta(days=day)), ledger
        )
    assert sum(e.points for e in ledger) == points
    assert [e.kind for e in ledger] == kinds


def test_the_outcome_names_the_skip_reason():
    outcome = apply_order(make_order(financial_status="PENDING"), RULES, [])
    assert (outcome.skip_reason, outcome.eligible, outcome.new_entries) == (
        SkipReason.AWAITING_PAYMENT,
        False,
        (),
    )
