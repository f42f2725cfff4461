"""Record validation at the edge: ids, money and text that storage could not hold."""

from __future__ import annotations

import pytest
from loyalty_records import Messages, customer, order, query, run_target
from target_loyalty.exceptions import RecordError
from target_loyalty.records import parse_customer, parse_order

BIG = 2**63


def set_path(record: dict, path: list, value: object) -> dict:
    node = record
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return record


ORDER_CASES = [
    (["id"], BIG, "id", "not an id between 1 and 2**63-1"),
    (["id"], -5, "id", "not an id"),
    (["id"], 0, "id", "not an id"),
    (["customer_id"], 2**64, "customer_id", "not an id"),
    (["line_items", 0, "id"], BIG, "line_items[0].id", "not an id"),
    (
        ["total_price_set", "shop_money", "amount"],
        "1e+30",
        "total_price_set.shop_money.amount",
        "1E+30 exceeds the largest amount stored (10**15)",
    ),
    (
        ["total_price_set", "shop_money", "amount"],
        1e30,
        "total_price_set.shop_money.amount",
        "money must be a decimal string",
    ),
    (
        ["subtotal_price_set", "shop_money", "amount"],
        "10.12345",
        "subtotal_price_set.shop_money.amount",
        "more than 4 decimals",
    ),
    (
        ["total_price_set", "shop_money", "amount"],
        "-10.00",
        "total_price_set.shop_money.amount",
        "negative",
    ),
    (["tags"], ["x" * 256], "tags[0]", "more than the 255 allowed"),
    (["tags"], ["a\x00b"], "tags[0]", "NUL"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    ORDER_CASES,
    ids=[
        "id-beyond-64-bits",
        "negative-id",
        "zero-id",
        "customer-id-beyond-64-bits",
        "line-item-id-beyond-64-bits",
        "money-1e30",
        "money-as-json-float",
        "money-five-decimals",
        "negative-total",
        "tag-too-long",
        "tag-with-nul",
    ],
)
def test_orders_outside_what_storage_holds_are_refused(path, value, field, reason):
    record = order(1001, 5, "10.00")
    record["line_items"] = [{"id": 1}]
    with pytest.raises(RecordError) as caught:
        parse_order(set_path(record, path, value))
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"orders {caught.value.key}: {field}: ")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"id": BIG}, "id", "not an id"),
        ({"email": "a\x00@example.com"}, "email", "NUL"),
        ({"email": "a" * 5000 + "@example.com"}, "email", "more than the 320 allowed"),
        ({"first_name": "n" * 100_000}, "first_name", "100,000 characters"),
        ({"phone": "+1" + "5" * 70}, "phone", "more than the 64 allowed"),
        ({"note": "n" * 5001}, "note", "more than the 5,000 allowed"),
        ({"state": "s" * 1001}, "state", "more than the 1,000 allowed"),
    ],
    ids=[
        "id-beyond-64-bits",
        "email-with-nul",
        "email-5000-chars",
        "name-100000-chars",
        "phone-too-long",
        "note-too-long",
        "other-text-too-long",
    ],
)
def test_customers_outside_what_storage_holds_are_refused(changes, field, reason):
    with pytest.raises(RecordError) as caught:
        parse_customer(customer(9, **changes))
    assert (caught.value.field, reason in caught.value.reason) == (field, True)


def test_bad_records_are_quarantined_naming_the_field_and_the_rest_applied(database_url):
    """On PostgreSQL too: NUL bytes, huge ids and money never reach the driver."""
    huge = order(1002, 5, "10.00")
    huge["total_price_set"]["shop_money"]["amount"] = "1e+30"
    floaty = order(1003, 5, "10.00")
    floaty["subtotal_price_set"]["shop_money"]["amount"] = 10.0
    messages = (
        Messages()
        .records(
            "customers",
            customer(1),
            customer(BIG),
            customer(2, email="x\x00@example.com"),
            customer(3, first_name="n" * 100_000),
        )
        .records("orders", order(1001, 1, "10.00"), huge, floaty, order(-4, 1, "10.00"))
    )
    run_target({"database_url": database_url, "as_of": "2024-06-01T00:00:00Z"}, messages)
    rows = query(
        database_url,
        "SELECT stream, record_key, field FROM loyalty_quarantine ORDER BY quarantine_id",
    )
    assert [tuple(r) for r in rows] == [
        ("customers", str(BIG), "id"),
        ("customers", "2", "email"),
        ("customers", "3", "first_name"),
        ("orders", "1002", "total_price_set.shop_money.amount"),
        ("orders", "1003", "subtotal_price_set.shop_money.amount"),
        ("orders", "-4", "id"),
    ]
    assert [r[0] for r in query(database_url, "SELECT customer_id FROM loyalty_accounts")] == [1]
    assert [r[0] for r in query(database_url, "SELECT order_id FROM loyalty_orders")] == [1001]
