"""Strict parsing of the tap's records into domain objects.

singer-sdk's per-record JSON Schema validation is off by default for speed, so this is
where bad input is caught: every error names the stream, the record key and the field,
and the sink quarantines the record instead of failing the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from target_runtime.edge import DEFAULT_TEXT_LIMIT, MAX_ID, text_problem
from target_runtime.fields import FieldReader, is_plain_amount

from target_loyalty.domain.model import ZERO, Order, Refund
from target_loyalty.domain.privacy import Kind, PrivacyRequest
from target_loyalty.domain.reconciliation import ManifestPart
from target_loyalty.exceptions import RecordError

# ISO 4217 codes Shopify accepts as shop or presentment currencies (plus XXX-style
# funds it never uses are left out on purpose).
_CURRENCY_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK "
    "JEP JMD JOD JPY KES KGS KHR KID KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL LTL LVL LYD "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR "
    "PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS "
    "SRD SSP STD STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USDC UYU "
    "UZS VED VES VND VUV WST XAF XCD XOF XPF XXX YER ZAR ZMW "
)
CURRENCIES = frozenset(_CURRENCY_CODES.split())


@dataclass(frozen=True)
class Customer:
    """The account-relevant fields of a customer record."""

    customer_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    state: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


class _Reader(FieldReader):
    """The runtime's field reader, naming a record by its id and raising ``RecordError``."""

    rejection = RecordError

    @classmethod
    def key_of(cls, record: Mapping[str, Any]) -> str:
        return f"{record.get('id')!s:.40}"


def parse_moment(value: Any, fail: Any) -> datetime:
    """An ISO 8601 timestamp (or an already-parsed datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise fail(f"not an ISO 8601 timestamp: {value!r}") from None
    else:
        raise fail(f"not a timestamp: {value!r}")
    if moment.tzinfo is None:
        raise fail(f"timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


def parse_customer(record: Mapping[str, Any]) -> tuple[str, Customer]:
    """Parse a ``customers`` record.

    Raises:
        RecordError: The first bad field, named with the record's key.
    """
    r = _Reader("customers", record)
    shop = r.shop()
    customer_id = r.integer("id")
    assert customer_id is not None
    updated = r.moment("updated_at")
    created = r.moment("created_at", optional=True) or updated
    assert created is not None
    assert updated is not None
    return shop, Customer(
        customer_id=customer_id,
        email=r.text("email"),
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        phone=r.text("phone"),
        state=r.text("state"),
        tags=_checked_tags(r),
        created_at=created,
        updated_at=updated,
    )


def _checked_tags(r: _Reader) -> tuple[str, ...]:
    # Fields the books do not keep are still bounded: the record is valid or quarantined.
    r.text("display_name")
    r.text("note")
    return r.tags()


def parse_roster(record: Mapping[str, Any]) -> tuple[str, int]:
    """Parse a ``customer_roster`` record into (shop, customer id)."""
    r = _Reader("customer_roster", record)
    shop = r.shop()
    customer_id = r.integer("id")
    assert customer_id is not None
    return shop, customer_id


def _refund(r: _Reader, raw: Any, index: int, currency: str) -> Refund:
    field = f"refunds[{index}]"
    if not isinstance(raw, Mapping):
        raise r.fail(field, "expected an object")
    refund_id = r.check_id(f"{field}.id", raw.get("id"))
    assert refund_id is not None
    created = r.check_moment(f"{field}.created_at", raw.get("created_at"))
    assert created is not None
    lines = raw.get("refund_line_items") or []
    if not isinstance(lines, list):
        raise r.fail(f"{field}.refund_line_items", "expected a list")
    subtotal = sum(
        (
            r.money(
                line.get("subtotal_set"),
                f"{field}.refund_line_items[{i}].subtotal_set",
                currency=currency,
            )
            for i, line in enumerate(lines)
        ),
        ZERO,
    )
    total = r.money(
        raw.get("total_refunded_set"),
        f"{field}.total_refunded_set",
        currency=currency,
        null_is_zero=True,
    )
    return Refund(refund_id=refund_id, created_at=created, line_subtotal=subtotal, total=total)


_LINE_MONEY = (
    "original_unit_price_set",
    "discounted_unit_price_set",
    "original_total_set",
    "discounted_total_set",
)
_LINE_TEXT = ("sku", "title", "name", "vendor")
_LINE_IDS = ("product_id", "variant_id")
#: Order text the books do not keep, still bounded so the record is valid or quarantined.
_ORDER_TEXT = ("email", "phone", "name", "source_name", "cancel_reason", "fulfillment_status")


def _plain_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _plain_text(value: Any) -> bool:
    return type(value) is str and len(value) <= DEFAULT_TEXT_LIMIT and "\x00" not in value


def _plain_money(bag: Any, currency: str) -> bool:
    """A MoneyBag whose shop amount is a plain decimal in the shop currency."""
    try:
        shop_money = bag["shop_money"]
        amount = shop_money["amount"]
        return (
            shop_money["currency_code"] == currency
            and type(amount) is str
            and is_plain_amount(amount)
        )
    except (KeyError, TypeError):
        return False


def _check_line_items(r: _Reader, lines: Any, currency: str) -> None:
    """Line items are not booked, but their ids, prices and text must be storable.

    Most lines are plain (ids, plain amounts, short text) and are accepted without
    building a field name; any other line takes the full checks, which name the field.
    """
    if lines is None:
        return
    if not isinstance(lines, list):
        raise r.fail("line_items", "expected a list")
    for index, line in enumerate(lines):
        if (
            type(line) is dict
            and _plain_id(line.get("id"))
            and all(line.get(k) is None or _plain_id(line[k]) for k in _LINE_IDS)
            and all(line.get(k) is None or _plain_money(line[k], currency) for k in _LINE_MONEY)
            and all(line.get(k) is None or _plain_text(line[k]) for k in _LINE_TEXT)
        ):
            continue
        _check_line_item(r, index, line, currency)


def _check_line_item(r: _Reader, index: int, line: Any, currency: str) -> None:
    where = f"line_items[{index}]"
    if not isinstance(line, Mapping):
        raise r.fail(where, "expected an object")
    r.check_id(f"{where}.id", line.get("id"))
    for key in _LINE_IDS:
        r.check_id(f"{where}.{key}", line.get(key), optional=True)
    for key in _LINE_MONEY:
        if line.get(key) is not None:
            r.money(line[key], f"{where}.{key}", currency=currency)
    for key in _LINE_TEXT:
        value = line.get(key)
        if value is not None:
            problem = (
                text_problem(value, DEFAULT_TEXT_LIMIT)
                if isinstance(value, str)
                else "expected a string"
            )
            if problem:
                raise r.fail(f"{where}.{key}", problem)


def parse_order(record: Mapping[str, Any]) -> tuple[str, Order]:
    """Parse an ``orders`` record; amounts in shop currency, as placed.

    Raises:
        RecordError: The first bad field, named with the record's key.
    """
    r = _Reader("orders", record)
    shop = r.shop()
    order_id = r.integer("id")
    currency = record.get("currency_code")
    if currency not in CURRENCIES:
        raise r.fail("currency_code", f"unknown currency {currency!r:.20}")
    refunds = record.get("refunds") or []
    if not isinstance(refunds, list):
        raise r.fail("refunds", "expected a list")
    test = record.get("test") or False
    if not isinstance(test, bool):
        raise r.fail("test", f"expected a boolean, got {test!r}")
    created = r.moment("created_at")
    _check_line_items(r, record.get("line_items"), currency)
    for field in _ORDER_TEXT:
        r.text(field)
    assert order_id is not None
    assert created is not None
    return shop, Order(
        order_id=order_id,
        customer_id=r.integer("customer_id", optional=True),
        created_at=created,
        updated_at=r.moment("updated_at", optional=True) or created,
        subtotal=r.money(record.get("subtotal_price_set"), "subtotal_price_set", currency=currency),
        total=r.money(record.get("total_price_set"), "total_price_set", currency=currency),
        currency=currency,
        test=test,
        cancelled_at=r.moment("cancelled_at", optional=True),
        tags=frozenset(r.tags()),
        refunds=tuple(_refund(r, raw, i, currency) for i, raw in enumerate(refunds)),
        financial_status=r.text("financial_status"),
    )


@dataclass(frozen=True)
class Manifest:
    """One ``sync_manifest`` row as stored (the domain's part plus where it came from)."""

    tap_run_id: str
    part: ManifestPart
    selection: str
    window_start: datetime | None
    window_end: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


def _count(r: _Reader, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise r.fail(field, f"expected a count (a non-negative integer), got {value!r:.40}")
    return value


def _label(r: _Reader, field: str) -> str:
    value = r.record.get(field)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise r.fail(field, "expected a non-empty string of at most 64 characters")
    return value


def parse_manifest(record: Mapping[str, Any]) -> tuple[str, Manifest]:
    """Parse a ``sync_manifest`` record.

    Raises:
        RecordError: The first bad field, named with the record's key.
    """
    r = _Reader("sync_manifest", record)
    r.key = f"{record.get('run_id')!s:.64}/{record.get('stream')!s:.64}/{record.get('part')!s:.32}"
    shop = r.shop()
    excluded = record.get("excluded") or {}
    if not isinstance(excluded, Mapping):
        raise r.fail("excluded", "expected an object of reason -> count")
    part = ManifestPart(
        stream=_label(r, "stream"),
        part=_label(r, "part"),
        shopify_count_before=_count(r, "shopify_count_before", record.get("shopify_count_before")),
        shopify_count_after=_count(r, "shopify_count_after", record.get("shopify_count_after")),
        emitted=_count(r, "emitted", record.get("emitted")),
        excluded={str(k)[:64]: _count(r, f"excluded.{k}", v) for k, v in excluded.items()},
    )
    selection = record.get("selection") or ""
    if not isinstance(selection, str):
        raise r.fail("selection", "expected a string")
    return shop, Manifest(
        tap_run_id=_label(r, "run_id"),
        part=part,
        selection=selection[:10_000],
        window_start=r.moment("window_start", optional=True),
        window_end=r.moment("window_end", optional=True),
        started_at=r.moment("started_at", optional=True),
        finished_at=r.moment("finished_at", optional=True),
    )


_CUSTOMER_KINDS = (Kind.CUSTOMER_DELETE, Kind.CUSTOMER_REDACT, Kind.DATA_REQUEST)


def parse_privacy_request(record: Mapping[str, Any]) -> tuple[str, PrivacyRequest]:
    """Parse a ``privacy_requests`` record (docs/record-contract.md).

    Raises:
        RecordError: The first bad field: no shop, no request id, an unknown kind, a
            customer kind naming no customer (no id, email or phone), a bad id.
    """
    r = _Reader("privacy_requests", record)
    r.key = f"{record.get('request_id')!s:.40}"
    shop = r.shop()
    request_id = r.text("request_id")
    if not request_id:
        raise r.fail("request_id", "missing or empty request_id")
    raw_kind = record.get("kind")
    try:
        kind = Kind(raw_kind)
    except ValueError:
        allowed = ", ".join(k.value for k in Kind)
        raise r.fail("kind", f"{raw_kind!r:.40} is not one of {allowed}") from None
    customer_id = r.integer("customer_id", optional=True)
    email, phone = r.text("email"), r.text("phone")
    if kind in _CUSTOMER_KINDS and customer_id is None and not email and not phone:
        raise r.fail("customer_id", f"a {kind.value} request names no customer_id, email or phone")
    raw_orders = record.get("order_ids") or []
    if not isinstance(raw_orders, list):
        raise r.fail("order_ids", "expected a list of order ids")
    order_ids = tuple(
        r.check_id(f"order_ids[{i}]", value) or 0 for i, value in enumerate(raw_orders)
    )
    position = record.get("queue_position")
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise r.fail("queue_position", f"expected an integer >= 0, got {position!r:.40}")
    requested = r.moment("requested_at")
    assert requested is not None
    return shop, PrivacyRequest(
        request_id=request_id,
        kind=kind,
        customer_id=customer_id,
        email=email,
        phone=phone,
        order_ids=order_ids,
        data_request_id=r.integer("data_request_id", optional=True),
        origin=r.text("origin") or "webhook",
        requested_at=requested,
        queue_position=position,
    )
