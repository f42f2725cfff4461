"""The typed fast path accepts only what the strict parser accepts, and builds the same objects.

For every record here, ``decode_line`` either declines (None: the strict parser reads the
record and quarantines it if it must) or returns exactly what ``parse_order`` /
``parse_customer`` return for the same record.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loyalty_records import customer, money, order, refund, roster
from singer_sdk.contrib.msgspec import decoder
from target_loyalty.exceptions import RecordError
from target_loyalty.records import parse_customer, parse_order, parse_roster
from target_loyalty.typed_records import decode_line

PARSERS = {"orders": parse_order, "customers": parse_customer, "customer_roster": parse_roster}


def _line(stream: str, record: dict[str, Any], **extra: Any) -> bytes:
    message = {"type": "RECORD", "stream": stream, "record": record, **extra}
    return json.dumps(message).encode() + b"\n"


def _strict(raw: bytes) -> tuple[str, Any] | RecordError:
    message = decoder.decode(raw)
    try:
        return PARSERS[message["stream"]](message["record"])
    except RecordError as error:
        return error


def _agrees(raw: bytes) -> bool:
    """True when the fast path accepted the line (and then agrees with the parser)."""
    fast = decode_line(raw)
    if fast is None:
        return False
    strict = _strict(raw)
    assert not isinstance(strict, RecordError), f"fast path accepted a bad record: {strict}"
    stream, parsed, version = fast
    message = json.loads(raw)
    assert (stream, version) == (message["stream"], message.get("version"))
    assert (parsed.shop, parsed.item) == strict
    return True


def _rich_order() -> dict[str, Any]:
    record = order(
        7,
        3,
        "120.50",
        refunds=[refund(70, "20.25"), refund(71, "0", shipping="5.00")],
        cancelled="2024-03-09T10:00:00+02:00",
        tags=["VIP", "Skip_Loyalty"],
        updated="2024-03-05T08:00:00.123456Z",
    )
    record["line_items"] = [
        {
            "id": 9,
            "sku": "S",
            "title": "T",
            "name": "N",
            "vendor": None,
            "product_id": 1,
            "variant_id": None,
            "original_unit_price_set": money("60.25"),
            "discounted_unit_price_set": money("60.25"),
            "original_total_set": money("120.5"),
            "discounted_total_set": None,
        }
    ]
    record["financial_status"] = "PARTIALLY_REFUNDED"
    return record


def test_plain_records_take_the_fast_path_and_match_the_parser() -> None:
    lines = [
        _line("orders", _rich_order()),
        _line("orders", order(8, None, "0.0001", test=True)),
        _line("orders", {**order(9, 4, "10"), "updated_at": None, "refunds": None}),
        _line("orders", order(10, 5, "99999999999990.9999"), time_extracted="2024-01-01"),
        _line("customers", customer(3)),
        _line("customers", {**customer(4, tags=["a", "b"]), "created_at": None}),
        _line("customers", customer(5, note="n" * 5000, display_name="d" * 511)),
        _line("customer_roster", roster(3), version=1700000000000),
        _line("customer_roster", roster(2**63 - 1)),
    ]
    assert all(_agrees(raw) for raw in lines)


def _with(path: str, value: Any) -> dict[str, Any]:
    record = _rich_order()
    target: Any = record
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return record


NOT_PLAIN_ORDERS = {
    "negative amount": _with("subtotal_price_set.shop_money.amount", "-1.00"),
    "exponent amount": _with("total_price_set.shop_money.amount", "1e3"),
    "five decimals": _with("subtotal_price_set.shop_money.amount", "1.00001"),
    "too large": _with("subtotal_price_set.shop_money.amount", "1000000000000000"),
    "newline amount": _with("subtotal_price_set.shop_money.amount", "1.00\n"),
    "number amount": _with("subtotal_price_set.shop_money.amount", 1.5),
    "other currency": _with("subtotal_price_set.shop_money.currency_code", "EUR"),
    "line other currency": _with("line_items.0.original_total_set.shop_money.currency_code", "EUR"),
    "refund other currency": _with("refunds.0.total_refunded_set.shop_money.currency_code", "EUR"),
    "unknown currency": _with("currency_code", "ZZZ"),
    "naive timestamp": _with("created_at", "2024-03-01T12:00:00"),
    "bad timestamp": _with("updated_at", "yesterday"),
    "refund naive timestamp": _with("refunds.1.created_at", "2024-03-01"),
    "zero id": _with("id", 0),
    "huge id": _with("id", 2**63),
    "boolean id": _with("customer_id", True),
    "string id": _with("id", "7"),
    "line bad id": _with("line_items.0.product_id", -1),
    "nul in text": _with("name", "a\x00b"),
    "nul in a field not read": _with("admin_graphql_api_id", "\x00"),
    "long email": _with("email", "e" * 321),
    "long tag": _with("tags", ["t" * 256]),
    "tag not a string": _with("tags", [1]),
    "empty shop": _with("shop_domain", ""),
    "no shop": _with("shop_domain", None),
    "test not a boolean": _with("test", "yes"),
    "refunds not a list": _with("refunds", {"id": 1}),
    "missing subtotal": _with("subtotal_price_set", None),
    "line not an object": _with("line_items", [1]),
}


@pytest.mark.parametrize("name", sorted(NOT_PLAIN_ORDERS))
def test_records_that_are_not_plain_are_left_to_the_parser(name: str) -> None:
    # Most of these the parser quarantines; a few it accepts by its slower checks
    # ("1e3" is a decimal string): either way it decides, not the fast path.
    assert decode_line(_line("orders", NOT_PLAIN_ORDERS[name])) is None


def test_messages_that_are_not_plain_records_are_left_to_the_reader() -> None:
    record = order(1, 2, "10.00")
    assert decode_line(_line("refunds", {"shop_domain": "s", "id": 1})) is None
    assert decode_line(_line("customer_roster", roster(0), version=1)) is None
    assert decode_line(_line("customer_roster", roster(1), version=True)) is None
    assert decode_line(_line("orders", record, version="1")) is None
    assert decode_line(_line("orders", record, time_extracted=5)) is None
    assert decode_line(json.dumps({"type": "STATE", "value": {}}).encode()) is None
    assert decode_line(b'{"type": "RECORD", "stream": "orders", "record": {') is None
    assert decode_line(b"\xff\xfe") is None


_TEXT = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans())
_AMOUNT = st.one_of(
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,5})?\Z"), st.sampled_from(["-1", "1e2", " 1", ""])
)
_MOMENT = st.sampled_from(
    [
        None,
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:00+05:30",
        "2024-03-01T12:00:00",
        "2024-03-01",
        "x",
        "2024-03-01T12:00:00.5Z",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    amount=_AMOUNT,
    currency=st.sampled_from(["USD", "EUR", "usd", None]),
    created=_MOMENT,
    updated=_MOMENT,
    customer_id=st.one_of(st.none(), st.integers(-1, 3), st.just(2**63 - 1), st.just(2**63)),
    text=_TEXT,
    test=st.one_of(st.booleans(), st.none(), st.just(0)),
)
def test_any_mutation_is_either_refused_or_parsed_identically(
    amount: str,
    currency: str | None,
    created: str | None,
    updated: str | None,
    customer_id: int | None,
    text: Any,
    test: Any,
) -> None:
    record = copy.deepcopy(_rich_order())
    record["refunds"][0]["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] = amount
    record["line_items"][0]["original_total_set"]["shop_money"]["currency_code"] = currency
    record["created_at"], record["updated_at"] = created, updated
    record["customer_id"], record["source_name"], record["test"] = customer_id, text, test
    raw = _line("orders", record)
    if not _agrees(raw):
        return
    # Accepted: then the parser accepted it too (checked in _agrees), so it was plain.
    assert currency == "USD"
    assert customer_id is None or 1 <= customer_id < 2**63
