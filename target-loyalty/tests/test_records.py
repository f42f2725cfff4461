"""The strict parser: every error names the stream, the record and the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loyalty_records import customer, order, refund
from target_loyalty.exceptions import RecordError
from target_loyalty.records import parse_customer, parse_order, parse_roster


def test_a_valid_order_parses_in_shop_currency():
    shop, parsed = parse_order(order(5, 7, "19.99", refunds=[refund(3, "4.00", shipping="1.00")]))
    assert shop == "demo-store.myshopify.com"
    assert parsed.subtotal == Decimal("19.99")
    assert parsed.total == Decimal("26.99")
    assert parsed.refunds[0].line_subtotal == Decimal("4.00")
    assert parsed.refunds[0].total == Decimal("5.00")
    assert parsed.created_at.tzinfo is not None


def broken(path, value):
    record = order(5, 7, "19.99", refunds=[refund(3, "4.00")])
    target = record
    *parents, last = path
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return record


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        (["id"], KeyError, "id", "integer"),
        (["id"], "5", "id", "integer"),
        (["shop_domain"], "", "shop_domain", "shop_domain"),
        (["currency_code"], "ZZZ", "currency_code", "unknown currency"),
        (
            ["subtotal_price_set", "shop_money", "amount"],
            19.99,
            "subtotal_price_set.shop_money.amount",
            "decimal string",
        ),
        (
            ["subtotal_price_set", "shop_money", "amount"],
            "12,50",
            "subtotal_price_set.shop_money.amount",
            "not a decimal",
        ),
        (
            ["subtotal_price_set", "shop_money", "amount"],
            "NaN",
            "subtotal_price_set.shop_money.amount",
            "finite",
        ),
        (
            ["subtotal_price_set", "shop_money", "currency_code"],
            "EUR",
            "subtotal_price_set",
            "shop currency",
        ),
        (["subtotal_price_set"], None, "subtotal_price_set", "MoneyBag"),
        (["created_at"], "yesterday", "created_at", "ISO 8601"),
        (["created_at"], "2024-03-01T12:00:00", "created_at", "time zone"),
        (["customer_id"], True, "customer_id", "integer"),
        (["refunds", 0, "id"], None, "refunds[0].id", "integer"),
        (
            ["refunds", 0, "refund_line_items", 0, "subtotal_set", "shop_money", "amount"],
            "x",
            "refunds[0].refund_line_items[0].subtotal_set.shop_money.amount",
            "not a decimal",
        ),
        (["tags"], "a,b", "tags", "list of strings"),
        (["test"], "yes", "test", "boolean"),
    ],
)
def test_bad_orders_name_the_field(path, value, field, reason):
    with pytest.raises(RecordError) as caught:
        parse_order(broken(path, value))
    error = caught.value
    assert (error.stream, error.field) == ("orders", field)
    assert reason in error.reason
    assert str(error).startswith(f"orders {error.key}: {field}: ")


def test_customer_and_roster_parse():
    shop, parsed = parse_customer(customer(9, email=None))
    assert (shop, parsed.customer_id, parsed.email) == ("demo-store.myshopify.com", 9, None)
    assert parse_roster({"shop_domain": shop, "id": 9}) == (shop, 9)
    with pytest.raises(RecordError, match="customer_roster None: id: "):
        parse_roster({"shop_domain": shop})
    with pytest.raises(RecordError, match="customers 9: updated_at: "):
        parse_customer(customer(9, updated_at=None))
