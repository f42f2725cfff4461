"""The typed (msgspec) fast path of the order parser agrees with the field-by-field reader.

The fast path may refuse more than the reader (the reader then decides), never less, and
what it accepts it must read exactly as the reader does (same values, same Decimal text).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from target_crm.exceptions import RecordRejectedError
from target_crm.parsing import _read_order, _typed_order, parse_order


def _bag(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "EUR"},
        "presentment_money": {"amount": amount, "currency_code": "EUR"},
    }


def base_order() -> dict[str, Any]:
    """A plainly valid order with every field the parser reads."""
    return {
        "shop_domain": "demo-store.myshopify.com",
        "id": 1001,
        "name": "#1001",
        "created_at": "2024-03-01T10:00:00Z",
        "updated_at": "2024-03-02T10:00:00+02:00",
        "customer_id": 7,
        "currency_code": "EUR",
        "total_price_set": _bag("120.50"),
        "current_total_price_set": _bag("100.5"),
        "total_refunded_set": _bag("20.0000"),
        "subtotal_price_set": _bag("110"),
        "total_tax_set": _bag("10.50"),
        "total_discounts_set": _bag("0.00"),
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": "2024-03-03T10:00:00.123456Z",
        "financial_status": "PARTIALLY_REFUNDED",
        "fulfillment_status": "FULFILLED",
        "email": "Ann@Example.com",
        "line_items": [
            {
                "id": 11,
                "title": "Widget",
                "sku": "W-1",
                "quantity": 2,
                "current_quantity": 1,
                "original_unit_price_set": _bag("60.25"),
                "product_id": 5,
                "variant_id": 6,
                "vendor": "ignored",
            },
            {"id": None, "title": None, "sku": None, "quantity": 0},
        ],
        "refunds": [
            {"id": 21, "created_at": "2024-03-02T09:00:00Z", "total_refunded_set": _bag("20")}
        ],
        "tags": ["vip", "wholesale"],
        "source_name": "web",
        "test": False,
        "unknown_field": {"kept": "out"},
    }


# Every place the parser reads (a path of keys and list indexes), and values that test the
# edges of what it accepts.
PATHS: list[tuple[Any, ...]] = [
    (name,)
    for name in base_order()
    if name not in {"line_items", "refunds", "tags"} and not name.endswith("_set")
] + [
    *[(name,) for name in base_order() if name.endswith("_set")],
    *[(name, "shop_money") for name in base_order() if name.endswith("_set")],
    *[(name, "shop_money", "amount") for name in base_order() if name.endswith("_set")],
    ("line_items",),
    ("line_items", 0),
    *[
        ("line_items", 0, name)
        for name in (
            "id",
            "title",
            "sku",
            "quantity",
            "current_quantity",
            "original_unit_price_set",
            "product_id",
            "variant_id",
        )
    ],
    ("line_items", 1, "quantity"),
    ("line_items", 0, "original_unit_price_set", "shop_money", "amount"),
    ("refunds",),
    ("refunds", 0),
    ("refunds", 0, "id"),
    ("refunds", 0, "created_at"),
    ("refunds", 0, "total_refunded_set"),
    ("refunds", 0, "total_refunded_set", "shop_money", "amount"),
    ("tags",),
    ("tags", 0),
]
EDGE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    1.5,
    Decimal("2.5"),
    "",
    " ",
    "x",
    "a\x00b",
    "a" * 8,
    "a" * 9,
    "a" * 32,
    "a" * 33,
    "a" * 64,
    "a" * 65,
    "a" * 255,
    "a" * 256,
    "a" * 320,
    "a" * 321,
    "a" * 1000,
    "a" * 1001,
    "é" * 64,
    "0",
    "12.5",
    "12.50",
    "12.1234",
    "12.12345",
    "12.10000",
    "-1.00",
    "+1.00",
    "1e3",
    "1E+30",
    " 1.00",
    "1_000",
    "NaN",
    "Infinity",
    "999999999999999.9999",
    "1000000000000000",
    "0001.5",
    "١٢",
    "2024-03-01T10:00:00",
    "2024-03-01T10:00:00Z",
    "2024-03-01T10:00:00+05:30",
    "2024-03-01",
    "2024-03-01 10:00:00Z",
    "2024-13-01T10:00:00Z",
    "not a date",
    [],
    ["x"],
    [None],
    {},
    {"shop_money": None},
    {"shop_money": {"amount": 5}},
    {"shop_money": {"amount": "5.5"}},
    {"shop_money": []},
]


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any, *, delete: bool) -> None:
    target: Any = record
    for step in path[:-1]:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation replaced the parent: nothing left to change
    last = path[-1]
    if isinstance(target, dict):
        if delete:
            target.pop(last, None)
        else:
            target[last] = value
    elif isinstance(target, list) and isinstance(last, int) and last < len(target):
        if delete:
            del target[last]
        else:
            target[last] = value


def _outcome(parse: Any, record: dict[str, Any]) -> str:
    try:
        return repr(parse(record))
    except RecordRejectedError as error:
        return f"rejected: {error.field}: {error.reason}"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.sampled_from(EDGE_VALUES), st.booleans()),
        min_size=1,
        max_size=3,
    )
)
def test_the_typed_path_accepts_only_what_the_reader_reads_the_same(mutations):
    record = base_order()
    for path, value, delete in mutations:
        _set(record, path, copy.deepcopy(value), delete=delete and len(path) > 0)
    reader = _outcome(_read_order, record)
    typed = _typed_order(record)
    if typed is not None:
        assert repr(typed) == reader
    assert _outcome(parse_order, record) == reader


def test_a_plain_order_takes_the_typed_path_and_reads_as_the_reader_does():
    record = base_order()
    typed = _typed_order(record)
    assert typed is not None
    assert repr(typed) == repr(_read_order(record))
    assert typed.total_refunded == Decimal("20.0000")
    assert str(typed.total_refunded) == "20.0000"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("shop_domain",), ""),
        (("id",), True),
        (("name",), "a\x00b"),
        (("total_price_set", "shop_money", "amount"), "1E+30"),
        (("total_price_set", "shop_money", "amount"), "12.10000"),
        (("line_items", 0, "quantity"), 2**31),
        (("created_at",), "2024-03-01T10:00:00"),
        (("tags", 0), "a" * 256),
    ],
    ids=[
        "empty-shop",
        "bool-id",
        "nul-in-name",
        "money-exponent",
        "trailing-zero-decimals",
        "quantity-too-large",
        "naive-time",
        "long-tag",
    ],
)
def test_edge_values_leave_the_decision_to_the_reader(path, value):
    record = base_order()
    _set(record, path, value, delete=False)
    assert _typed_order(record) is None
    assert _outcome(parse_order, record) == _outcome(_read_order, record)
