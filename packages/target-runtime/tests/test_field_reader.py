"""The runtime's field reader: each accessor's accepted values and its named rejections."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidRecord, SkippableSyncError
from target_runtime.fields import FieldReader, RecordRejected, is_plain_amount, record_key

SHOP = "demo.myshopify.com"


def reader(**fields: Any) -> FieldReader:
    return FieldReader("orders", {"shop_domain": SHOP, "id": 7, **fields})


def rejection(read: Any) -> RecordRejected:
    with pytest.raises(RecordRejected) as caught:
        read()
    return caught.value


def test_a_rejection_is_the_sdks_skippable_invalid_record_naming_stream_key_and_field() -> None:
    error = rejection(lambda: reader(customer_id="x").integer("customer_id"))
    assert isinstance(error, InvalidRecord)
    assert isinstance(error, SkippableSyncError)
    assert isinstance(error, ValueError)
    assert (error.stream, error.key, error.field) == ("orders", f"{SHOP}/7", "customer_id")
    assert str(error) == (
        f"orders record {SHOP}/7: field 'customer_id': expected an integer, got str"
    )
    assert error.record["customer_id"] == "x"


def test_a_target_words_its_own_message_and_key() -> None:
    class LoyaltyRejected(RecordRejected):
        message_format = "{stream} {key}: {field}: {reason}"

    class LoyaltyReader(FieldReader):
        rejection = LoyaltyRejected

        @classmethod
        def key_of(cls, record: Any) -> str:
            return str(record.get("id"))

    error = rejection(lambda: LoyaltyReader("orders", {"id": 9}).shop())
    assert isinstance(error, LoyaltyRejected)
    assert str(error) == "orders 9: shop_domain: missing or empty shop_domain"


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"shop_domain": SHOP, "id": 1}, f"{SHOP}/1"),
        ({"id": 1}, "?/1"),
        ({"shop_domain": 5, "id": None}, "?/?"),
        ({"shop_domain": "a\x00b", "id": 2}, "a\\0b/2"),
        ({"shop_domain": "s" * 200, "id": 3}, "s" * 119 + "…"),
    ],
    ids=["shop-and-id", "no-shop", "neither", "nul-escaped", "cut-at-120"],
)
def test_record_key(record: dict[str, Any], key: str) -> None:
    assert record_key(record) == key


ID_CASES = [
    (1, 1, None),
    (2**63 - 1, 2**63 - 1, None),
    (0, None, "0 is not an id between 1 and 2**63-1"),
    (-5, None, "-5 is not an id between 1 and 2**63-1"),
    (2**63, None, f"{2**63} is not an id between 1 and 2**63-1"),
    (True, None, "expected an integer, got bool"),
    ("12", None, "expected an integer, got str"),
    (None, None, "expected an integer, got NoneType"),
]


@pytest.mark.parametrize(
    ("value", "read", "reason"),
    ID_CASES,
    ids=["one", "largest", "zero", "negative", "beyond-64-bits", "bool", "string", "null"],
)
def test_integer_reads_an_id(value: Any, read: int | None, reason: str | None) -> None:
    r = reader(customer_id=value)
    if reason is None:
        assert r.integer("customer_id") == read
    else:
        assert rejection(lambda: r.integer("customer_id")).reason == reason


def test_optional_fields_read_null_as_none_and_required_ones_reject_it() -> None:
    r = reader(customer_id=None, cancelled_at=None, note=None)
    assert r.integer("customer_id", optional=True) is None
    assert r.moment("cancelled_at", optional=True) is None
    assert r.text("note") is None
    assert rejection(lambda: r.moment("cancelled_at")).reason == "missing date-time"
    assert rejection(lambda: r.text("note", optional=False)).reason == (
        "expected a string, got NoneType"
    )


@pytest.mark.parametrize(
    ("value", "limit", "reason"),
    [
        (0, 2**31 - 1, None),
        (2**31 - 1, 2**31 - 1, None),
        (2**31, 2**31 - 1, f"{2**31} is not a count between 0 and 2**31-1"),
        (-1, 2**31 - 1, "-1 is not a count between 0 and 2**31-1"),
        (2**40, 2**63 - 1, None),
        (1_001, 1_000, "1001 is not a count between 0 and 1,000"),
    ],
    ids=["zero", "int-max", "beyond-int", "negative", "bigint-limit", "plain-limit"],
)
def test_count(value: int, limit: int, reason: str | None) -> None:
    r = reader(quantity=value)
    if reason is None:
        assert r.count("quantity", limit=limit) == value
    else:
        assert rejection(lambda: r.count("quantity", limit=limit)).reason == reason


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("email", "a" * 320, None),
        ("email", "a" * 321, "321 characters, more than the 320 allowed"),
        ("note", "n" * 5_001, "5,001 characters, more than the 5,000 allowed"),
        ("line_items.title", "t" * 1_001, "1,001 characters, more than the 1,000 allowed"),
        ("first_name", "Ann\x00", "contains a NUL character"),
        ("first_name", 5, "expected a string, got int"),
    ],
    ids=["email-at-bound", "email-over", "note-over", "other-text-over", "nul", "not-text"],
)
def test_text_bounds_follow_the_fields_last_name(
    field: str, value: Any, reason: str | None
) -> None:
    r = reader()
    if reason is None:
        assert r.check_text(field, value) == value
    else:
        assert rejection(lambda: r.check_text(field, value)).reason == reason


def test_a_target_adds_bounds_of_its_own_columns() -> None:
    class Narrow(FieldReader):
        text_limits: ClassVar[Mapping[str, int]] = {**FieldReader.text_limits, "title": 3}

    error = rejection(lambda: Narrow("orders", {"title": "four"}).text("title"))
    assert error.reason == "4 characters, more than the 3 allowed"


@pytest.mark.parametrize(
    ("value", "moment", "reason"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC), None),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC), None),
        (
            datetime(2024, 5, 1, 5, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2024, 5, 1, 10, tzinfo=UTC),
            None,
        ),
        ("2024-05-01T10:00:00", None, "date-time without a time zone: 2024-05-01T10:00:00"),
        ("yesterday", None, "not an ISO 8601 date-time: 'yesterday'"),
        (1714557600, None, "expected a date-time string, got int"),
    ],
    ids=["zulu", "offset", "parsed-datetime", "naive", "not-iso", "epoch-number"],
)
def test_moment_is_an_aware_utc_datetime(value: Any, moment: Any, reason: str | None) -> None:
    r = reader(created_at=value)
    if reason is None:
        read = r.moment("created_at")
        assert read == moment
        assert read is not None
        assert read.tzinfo is UTC
    else:
        assert rejection(lambda: r.moment("created_at")).reason == reason


def bag(amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"shop_money": {"amount": amount, "currency_code": currency}}


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (bag("12.50"), "total_price_set", None),
        (bag("12.5", "EUR"), "total_price_set", "shop money in 'EUR', expected shop currency USD"),
        ({"amount": "1"}, "total_price_set", "expected a MoneyBag with shop_money.amount"),
        ("12.50", "total_price_set", "expected a MoneyBag with shop_money.amount"),
        (
            bag(12.5),
            "total_price_set.shop_money.amount",
            "money must be a decimal string, got a JSON number",
        ),
        (
            bag("1e+30"),
            "total_price_set.shop_money.amount",
            "1E+30 exceeds the largest amount stored (10**15)",
        ),
        (bag("1.00001"), "total_price_set.shop_money.amount", "1.00001 has more than 4 decimals"),
        (
            bag("-10.00"),
            "total_price_set.shop_money.amount",
            "-10.00 is negative; totals and prices are not",
        ),
        (bag("NaN"), "total_price_set.shop_money.amount", "not a finite amount: 'NaN'"),
        (bag("ten"), "total_price_set.shop_money.amount", "not a decimal amount: 'ten'"),
        (
            bag("1" * 65),
            "total_price_set.shop_money.amount",
            "65 characters is not a money amount",
        ),
    ],
    ids=[
        "plain",
        "other-currency",
        "no-shop-money",
        "not-a-bag",
        "json-number",
        "beyond-range",
        "five-decimals",
        "negative",
        "nan",
        "not-decimal",
        "too-long",
    ],
)
def test_money_in_the_shop_currency(raw: Any, field: str, reason: str | None) -> None:
    r = reader(total_price_set=raw)
    read = lambda: r.money(r.value("total_price_set"), "total_price_set", currency="USD")  # noqa: E731
    if reason is None:
        assert read() == Decimal("12.50")
    else:
        error = rejection(read)
        assert (error.field, error.reason) == (field, reason)


def test_a_null_money_bag_is_zero_only_when_the_target_says_so() -> None:
    r = reader()
    assert r.money(None, "total_tax_set", null_is_zero=True) == 0
    error = rejection(lambda: r.money(None, "total_tax_set"))
    assert error.reason == "expected a MoneyBag with shop_money.amount"


def _documented_money_rule(text: str) -> Decimal | None:
    """README: a decimal string, at most 4 decimals as written, |x| < 10**15, never negative."""
    if len(text) > 64:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    decimals = -amount.as_tuple().exponent if amount.is_finite() else 99
    if not amount.is_finite() or abs(amount) >= 10**15 or decimals > 4 or amount < 0:  # type: ignore[operator]
        return None
    return amount


AMOUNT_TEXT = st.one_of(
    st.from_regex(re.compile(r"-?[0-9]{1,17}(\.[0-9]{0,6})?"), fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=8),
)


@given(AMOUNT_TEXT)
def test_money_accepts_exactly_what_the_documented_rule_accepts(text: str) -> None:
    expected = _documented_money_rule(text)
    r = reader()
    try:
        read: Decimal | None = r.amount("total", text)
    except RecordRejected:
        read = None
    assert read == expected
    if is_plain_amount(text):  # the fast path never accepts what the rule refuses
        assert expected is not None


@pytest.mark.parametrize(
    ("tags", "field", "reason"),
    [
        (["a", "b"], None, None),
        (None, None, None),
        ("a,b", "tags", "expected a list of strings"),
        (["ok", 5], "tags", "expected a list of strings"),
        (["ok", "t" * 256], "tags[1]", "256 characters, more than the 255 allowed"),
        (["a\x00"], "tags[0]", "contains a NUL character"),
    ],
    ids=["list", "null-is-none", "comma-text", "not-text", "long-tag-by-index", "nul"],
)
def test_tags(tags: Any, field: str | None, reason: str | None) -> None:
    r = reader(tags=tags)
    if reason is None:
        assert r.tags() == tuple(tags or ())
    else:
        error = rejection(r.tags)
        assert (error.field, error.reason) == (field, reason)


def test_within_names_a_nested_field_by_its_path() -> None:
    r = reader(line_items=[{"id": 0}])
    item = r.list_("line_items")[0]
    error = rejection(lambda: r.within("line_items", lambda: r.integer("id", item)))
    assert error.field == "line_items.id"
    assert rejection(lambda: reader(line_items="x").list_("line_items")).reason == (
        "expected an array, got str"
    )
    assert rejection(lambda: reader(address=[1]).obj("address")).reason == (
        "expected an object, got list"
    )
