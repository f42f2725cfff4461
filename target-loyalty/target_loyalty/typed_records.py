"""Typed decoding of the hot streams' RECORD lines straight into domain objects.

The strict parser (:mod:`target_loyalty.records`) reads generic decoded JSON field by
field in Python, which is most of a record's cost. Here msgspec decodes the raw line into
structs whose types and bounds are the parser's own (ids from 1 to 2**63-1, plain money
strings, text lengths), in C, and only what msgspec cannot express (timestamps, the shop
currency) is checked in Python.

This is a fast path, never a second parser: it accepts only records the strict parser
accepts and builds exactly the objects it builds. Anything else (a type or bound msgspec
refuses, a NUL character anywhere in the line, an unknown currency, a timestamp the
parser would refuse) returns None, and the line takes the generic path, where the strict
parser quarantines it with the field named, or the reader dead-letters it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from target_runtime.edge import (
    DEFAULT_TEXT_LIMIT,
    MAX_ID,
    PLAIN_AMOUNT_PATTERN,
    TAG_LIMIT,
    TEXT_LIMITS,
)

from target_loyalty.domain.model import ZERO, Order, Refund
from target_loyalty.records import CURRENCIES, Customer, parse_moment

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Amount = Annotated[str, Meta(pattern=PLAIN_AMOUNT_PATTERN)]
Shop = Annotated[str, Meta(min_length=1, max_length=TEXT_LIMITS["shop_domain"])]
Text = Annotated[str, Meta(max_length=DEFAULT_TEXT_LIMIT)]
Tag = Annotated[str, Meta(max_length=TAG_LIMIT)]
Email = Annotated[str, Meta(max_length=TEXT_LIMITS["email"])]
Phone = Annotated[str, Meta(max_length=TEXT_LIMITS["phone"])]
Name = Annotated[str, Meta(max_length=TEXT_LIMITS["first_name"])]
DisplayName = Annotated[str, Meta(max_length=TEXT_LIMITS["display_name"])]
Note = Annotated[str, Meta(max_length=TEXT_LIMITS["note"])]


class NotPlainError(Exception):
    """The record needs the strict parser's field-by-field reading (and maybe its error)."""


def _not_plain(_reason: str) -> NotPlainError:
    return NotPlainError()


def _moment(value: str) -> datetime:
    return parse_moment(value, _not_plain)


class ShopMoney(Struct, gc=False):
    """A MoneyBag's shop amount; the presentment side is not read, so not decoded."""

    amount: Amount
    currency_code: str


class MoneyBag(Struct, gc=False):
    """A MoneyBag, as far as the books read it."""

    shop_money: ShopMoney


class LineItem(Struct, gc=False, kw_only=True):
    """A line item: not booked, but its ids, prices and text must be storable."""

    id: Id
    product_id: Id | None = None
    variant_id: Id | None = None
    original_unit_price_set: MoneyBag | None = None
    discounted_unit_price_set: MoneyBag | None = None
    original_total_set: MoneyBag | None = None
    discounted_total_set: MoneyBag | None = None
    sku: Text | None = None
    title: Text | None = None
    name: Text | None = None
    vendor: Text | None = None

    def bags(self) -> tuple[MoneyBag | None, ...]:
        """The line's money bags, for the shop-currency check."""
        return (
            self.original_unit_price_set,
            self.discounted_unit_price_set,
            self.original_total_set,
            self.discounted_total_set,
        )


class RefundLine(Struct, gc=False):
    """A refund line item: its subtotal is what a line-item refund takes."""

    subtotal_set: MoneyBag


class RefundRecord(Struct, gc=False, kw_only=True):
    """A refund of an order."""

    id: Id
    created_at: str
    refund_line_items: list[RefundLine] | None = None
    total_refunded_set: MoneyBag | None = None


class OrderRecord(Struct, gc=False, kw_only=True):
    """The fields of an ``orders`` record the parser reads or bounds."""

    shop_domain: Shop
    id: Id
    currency_code: str
    created_at: str
    subtotal_price_set: MoneyBag
    total_price_set: MoneyBag
    updated_at: str | None = None
    cancelled_at: str | None = None
    customer_id: Id | None = None
    test: bool | None = None
    refunds: list[RefundRecord] | None = None
    line_items: list[LineItem] | None = None
    tags: list[Tag] | None = None
    financial_status: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: Text | None = None
    source_name: Text | None = None
    cancel_reason: Text | None = None
    fulfillment_status: Text | None = None


class CustomerRecord(Struct, gc=False, kw_only=True):
    """The fields of a ``customers`` record the parser reads or bounds."""

    shop_domain: Shop
    id: Id
    updated_at: str
    created_at: str | None = None
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    state: Text | None = None
    display_name: DisplayName | None = None
    note: Note | None = None
    tags: list[Tag] | None = None


class RosterRecord(Struct, gc=False):
    """A ``customer_roster`` record: a live customer of one roster version."""

    shop_domain: Shop
    id: Id


class _RecordLine(Struct, gc=False, kw_only=True, tag_field="stream"):
    """A Singer RECORD message; the reader's own checks on it are typed here too."""

    type: Literal["RECORD"]
    time_extracted: str | UnsetType = UNSET
    version: int | UnsetType = UNSET


class OrdersLine(_RecordLine, tag="orders"):
    """A RECORD line of ``orders``."""

    stream_name: ClassVar[str] = "orders"
    record: OrderRecord


class CustomersLine(_RecordLine, tag="customers"):
    """A RECORD line of ``customers``."""

    stream_name: ClassVar[str] = "customers"
    record: CustomerRecord


class RosterLine(_RecordLine, tag="customer_roster"):
    """A RECORD line of ``customer_roster``."""

    stream_name: ClassVar[str] = "customer_roster"
    record: RosterRecord


TYPED_STREAMS = frozenset(
    {OrdersLine.stream_name, CustomersLine.stream_name, RosterLine.stream_name}
)
_LINE = msgspec.json.Decoder(OrdersLine | CustomersLine | RosterLine)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """A record the fast path parsed: what the strict parser would have returned."""

    shop: str
    item: Any


def decode_line(raw: bytes) -> tuple[str, ParsedRecord, int | None] | None:
    """The stream, parsed record and version of a plain RECORD line of a typed stream.

    None means "not decided here": the line may be another message, another stream, or
    a record the strict parser must read (and perhaps quarantine) itself.
    """
    # A NUL can only hide in an escape (JSON strings hold no raw control characters);
    # text holding one is refused by the parser, so the whole line takes its path.
    if b"\\u0000" in raw or b"\x00" in raw:
        return None
    try:
        line = _LINE.decode(raw)
        version = None if line.version is UNSET else line.version
        if type(line) is OrdersLine:
            return line.stream_name, ParsedRecord(*_order(line.record)), version
        if type(line) is CustomersLine:
            return line.stream_name, ParsedRecord(*_customer(line.record)), version
        record = line.record
        return line.stream_name, ParsedRecord(record.shop_domain, record.id), version
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, NotPlainError):
        return None


def _money(bag: MoneyBag, currency: str) -> Decimal:
    shop_money = bag.shop_money
    if shop_money.currency_code != currency:
        raise NotPlainError
    return Decimal(shop_money.amount)


def _optional_money(bag: MoneyBag | None, currency: str) -> Decimal:
    return ZERO if bag is None else _money(bag, currency)


def _refund(raw: RefundRecord, currency: str) -> Refund:
    lines = raw.refund_line_items or []
    return Refund(
        refund_id=raw.id,
        created_at=_moment(raw.created_at),
        line_subtotal=sum((_money(line.subtotal_set, currency) for line in lines), ZERO),
        total=_optional_money(raw.total_refunded_set, currency),
    )


def _order(record: OrderRecord) -> tuple[str, Order]:
    """records.parse_order on a record whose types and bounds msgspec already checked."""
    currency = record.currency_code
    if currency not in CURRENCIES:
        raise NotPlainError
    for line in record.line_items or ():
        for bag in line.bags():
            if bag is not None and bag.shop_money.currency_code != currency:
                raise NotPlainError
    created = _moment(record.created_at)
    updated = record.updated_at
    cancelled = record.cancelled_at
    return record.shop_domain, Order(
        order_id=record.id,
        customer_id=record.customer_id,
        created_at=created,
        updated_at=created if updated is None else _moment(updated),
        subtotal=_money(record.subtotal_price_set, currency),
        total=_money(record.total_price_set, currency),
        currency=currency,
        test=record.test or False,
        cancelled_at=None if cancelled is None else _moment(cancelled),
        tags=frozenset(record.tags or ()),
        refunds=tuple(_refund(raw, currency) for raw in record.refunds or ()),
        financial_status=record.financial_status,
    )


def _customer(record: CustomerRecord) -> tuple[str, Customer]:
    """records.parse_customer on a record whose types and bounds msgspec already checked."""
    updated = _moment(record.updated_at)
    created = record.created_at
    return record.shop_domain, Customer(
        customer_id=record.id,
        email=record.email,
        first_name=record.first_name,
        last_name=record.last_name,
        phone=record.phone,
        state=record.state,
        tags=tuple(record.tags or ()),
        created_at=updated if created is None else _moment(created),
        updated_at=updated,
    )
