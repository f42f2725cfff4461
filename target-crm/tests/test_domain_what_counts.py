"""What counts toward order count and lifetime value: paid money only, never test orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_crm.domain.models import CrmRules, Order
from target_crm.domain.orders import apply_order, order_value

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SHOP = "s.myshopify.com"
STATUSES = [
    "PAID",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "PENDING",
    "AUTHORIZED",
    "PARTIALLY_PAID",
    "VOIDED",
    "EXPIRED",
    "SOMETHING_NEW",
    None,
]


def make_order(**over: object) -> Order:
    base: dict[str, object] = {
        "shop_domain": SHOP,
        "id": 1001,
        "name": "#1001",
        "created_at": T0,
        "updated_at": T0,
        "customer_id": 5,
        "currency_code": "USD",
        "total_price": Decimal("100.00"),
        "current_total_price": Decimal("100.00"),
        "total_refunded": Decimal("0"),
        "financial_status": "PAID",
    }
    base.update(over)
    return Order(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("over", "rules", "expected"),
    [
        ({}, CrmRules(), (True, Decimal("100.00"))),
        ({"financial_status": "paid"}, CrmRules(), (True, Decimal("100.00"))),
        (
            {"financial_status": "PARTIALLY_REFUNDED", "total_refunded": Decimal("25.00")},
            CrmRules(),
            (True, Decimal("75.00")),
        ),
        (
            {"financial_status": "REFUNDED", "total_refunded": Decimal("100.00")},
            CrmRules(),
            (False, Decimal("0")),
        ),
        ({"financial_status": "PENDING"}, CrmRules(), (False, Decimal("0"))),
        ({"financial_status": "AUTHORIZED"}, CrmRules(), (False, Decimal("0"))),
        ({"financial_status": "PARTIALLY_PAID"}, CrmRules(), (False, Decimal("0"))),
        ({"financial_status": "VOIDED"}, CrmRules(), (False, Decimal("0"))),
        ({"financial_status": "EXPIRED"}, CrmRules(), (False, Decimal("0"))),
        ({"financial_status": None}, CrmRules(), (False, Decimal("0"))),
        (
            {"financial_status": "AUTHORIZED"},
            CrmRules(paid_financial_statuses=frozenset({"PAID", "AUTHORIZED"})),
            (True, Decimal("100.00")),
        ),
        ({"cancelled_at": T0}, CrmRules(), (False, Decimal("0"))),
        ({"test": True}, CrmRules(), (False, Decimal("0"))),
    ],
    ids=[
        "paid",
        "status-matched-case-insensitively",
        "partially-refunded-counts-the-rest",
        "fully-refunded-leaves-count-and-value",
        "pending-adds-nothing",
        "authorized-adds-nothing",
        "partially-paid-adds-nothing",
        "voided-adds-nothing",
        "expired-adds-nothing",
        "null-status-adds-nothing",
        "setting-can-add-authorized",
        "cancelled-adds-nothing",
        "test-order-adds-nothing",
    ],
)
def test_only_paid_money_counts(over, rules, expected):
    assert order_value(make_order(**over), rules) == expected


@pytest.mark.parametrize(
    ("over", "outcome", "kinds", "reason"),
    [
        ({"financial_status": "PENDING"}, "created", ["order_placed"], None),
        ({"test": True}, "skipped", [], "test_order"),
        ({"test": True, "cancelled_at": T0}, "skipped", [], "test_order"),
    ],
    ids=["unpaid-order-is-still-placed", "test-order-no-event", "test-cancelled-no-event"],
)
def test_unpaid_orders_are_placed_and_test_orders_produce_nothing(over, outcome, kinds, reason):
    out = apply_order(None, make_order(**over), 5, rules=CrmRules(), now=NOW, cutover=None)
    assert (out.outcome, [e.kind for e in out.events], out.reason) == (outcome, kinds, reason)
    if over.get("test"):
        assert out.snapshot is None


money = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)


@given(
    total=money,
    refunded=money,
    status=st.sampled_from(STATUSES),
    test=st.booleans(),
    cancelled=st.booleans(),
)
def test_value_is_paid_money_within_the_total(total, refunded, status, test, cancelled):
    order = make_order(
        total_price=total,
        total_refunded=min(refunded, total),
        financial_status=status,
        test=test,
        cancelled_at=T0 + timedelta(days=1) if cancelled else None,
    )
    counts, value = order_value(order, CrmRules())
    assert Decimal(0) <= value <= total
    paid = status in {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}
    if test or cancelled or not paid:
        assert (counts, value) == (False, Decimal(0))
    else:
        assert value == total - min(refunded, total)
