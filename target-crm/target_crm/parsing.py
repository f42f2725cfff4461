"""Strict record parsing: raw Singer records to domain values, or a named rejection.

singer-sdk's per-record JSON Schema validation is off by default (it costs ~90% of the CPU);
this parser is the validation: every field the rules read is checked, money is parsed as
Decimal (a float is refused), and an error names the stream, the record key and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta, Struct
from target_runtime.edge import DEFAULT_TEXT_LIMIT, MAX_ID

from target_crm.domain.models import Consent, Customer, LineItem, Order, Refund
from target_crm.domain.reconciliation import CONTRACT_STREAMS, ManifestPart
from target_crm.edge import (
    MAX_COUNT,
    TEXT_LIMITS,
    count_problem,
    id_problem,
    money_problem,
    printable_key,
    text_problem,
)
from target_crm.exceptions import RecordRejectedError

_ZERO = Decimal(0)
T = TypeVar("T")


class _Fields:
    """Typed access to one record's fields; each failure names the record and field."""

    def __init__(self, stream: str, record: Mapping[str, Any]) -> None:
        self.stream = stream
        self.record = record
        shop, rid = record.get("shop_domain"), record.get("id")
        key = f"{shop if isinstance(shop, str) else '?'}/{rid if rid is not None else '?'}"
        self.key = printable_key(key)

    def fail(self, field: str, reason: str) -> RecordRejectedError:
        return RecordRejectedError(self.stream, self.key, field, reason)

    def value(self, field: str, source: Mapping[str, Any] | None = None) -> Any:
        return (self.record if source is None else source).get(field)

    def int_(
        self, field: str, source: Mapping[str, Any] | None = None, *, null: bool = False
    ) -> Any:
        raw = self.value(field, source)
        if raw is None and null:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(field, f"expected an integer, got {type(raw).__name__}")
        return raw

    def id_(
        self, field: str, source: Mapping[str, Any] | None = None, *, null: bool = False
    ) -> Any:
        value = self.int_(field, source, null=null)
        if value is not None and (problem := id_problem(value)):
            raise self.fail(field, problem)
        return value

    def count(
        self, field: str, source: Mapping[str, Any] | None = None, *, null: bool = False
    ) -> Any:
        value = self.int_(field, source, null=null)
        if value is not None and (problem := count_problem(value)):
            raise self.fail(field, problem)
        return value

    def str_(
        self, field: str, source: Mapping[str, Any] | None = None, *, null: bool = True
    ) -> Any:
        raw = self.value(field, source)
        if raw is None and null:
            return None
        if not isinstance(raw, str):
            raise self.fail(field, f"expected a string, got {type(raw).__name__}")
        if problem := text_problem(field, raw):
            raise self.fail(field, problem)
        return raw

    def time(
        self, field: str, source: Mapping[str, Any] | None = None, *, null: bool = False
    ) -> Any:
        raw = self.value(field, source)
        if raw is None and null:
            return None
        if isinstance(raw, datetime):  # already parsed when validate_records is on
            parsed = raw
        elif isinstance(raw, str):
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                raise self.fail(field, f"not an ISO 8601 date-time: {raw!r}") from None
        else:
            raise self.fail(field, f"expected a date-time string, got {type(raw).__name__}")
        if parsed.tzinfo is None:
            raise self.fail(field, "date-time has no time zone")
        return parsed.astimezone(UTC)

    def decimal(self, field: str, raw: Any) -> Decimal:
        if not isinstance(raw, str):
            # msgspec hands JSON numbers over as Decimal/int: a number is not money here.
            kind = "a JSON number" if isinstance(raw, int | float | Decimal) else type(raw).__name__
            raise self.fail(field, f"money must be a decimal string, got {kind}")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise self.fail(field, f"not a decimal amount: {raw[:40]!r}") from None
        if not amount.is_finite():
            raise self.fail(field, f"not a finite amount: {raw[:40]!r}")
        if problem := money_problem(amount):
            raise self.fail(field, problem)
        return amount

    def money_bag(self, field: str, source: Mapping[str, Any] | None = None) -> Decimal:
        return self.bag(field, (self.record if source is None else source).get(field))

    def bag(self, label: str, bag: Any) -> Decimal:
        """The shop-currency amount of a MoneyBag (zero when absent)."""
        if bag is None:
            return _ZERO
        try:
            amount = bag["shop_money"]["amount"]
        except (TypeError, KeyError):
            raise self.fail(label, "expected a MoneyBag with shop_money.amount") from None
        if type(amount) is str:  # the common case, kept short: this runs ~8 times per order
            try:
                value = Decimal(amount)
            except InvalidOperation:
                raise self.fail(
                    f"{label}.shop_money.amount", f"not a decimal amount: {amount[:40]!r}"
                ) from None
            if value.is_finite() and money_problem(value) is None:
                return value
        return self.decimal(f"{label}.shop_money.amount", amount)

    def obj(self, field: str, source: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        raw = self.value(field, source)
        if raw is None or isinstance(raw, Mapping):
            return raw
        raise self.fail(field, f"expected an object, got {type(raw).__name__}")

    def list_(self, field: str, source: Mapping[str, Any] | None = None) -> list[Any]:
        raw = self.value(field, source)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(field, f"expected an array, got {type(raw).__name__}")
        return raw

    def tags(self, field: str = "tags") -> tuple[str, ...]:
        items = self.list_(field)
        if not all(isinstance(tag, str) for tag in items):
            raise self.fail(field, "tags must be strings")
        for tag in items:
            if problem := text_problem("tag", tag):
                raise self.fail(field, f"a tag {problem}")
        return tuple(items)

    def shop(self) -> str:
        shop = self.str_("shop_domain", null=False)
        if not shop:
            raise self.fail("shop_domain", "empty")
        return str(shop)


def _within(f: _Fields, prefix: str, read: Callable[[], T]) -> T:
    """Read a nested object; a failure names the field with its path (``line_items.id``)."""
    try:
        return read()
    except RecordRejectedError as error:
        if error.field.startswith(prefix):
            raise
        raise f.fail(f"{prefix}.{error.field}", error.reason) from None


def record_key(record: Mapping[str, Any]) -> str:
    """The ``shop_domain/id`` key of a raw record, for messages and listings.

    Args:
        record: The raw record.

    Returns:
        The key, with ``?`` for missing parts.
    """
    return _Fields("", record).key


def _consent(f: _Fields, field: str) -> Consent | None:
    raw = f.obj(field)
    if raw is None:
        return None
    state = f.str_("state", raw, null=False)
    return Consent(
        state=str(state),
        opt_in_level=f.str_("opt_in_level", raw),
        updated_at=f.time("consent_updated_at", raw, null=True),
    )


def _metafields(f: _Fields) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in f.list_("metafields"):
        if not isinstance(item, Mapping):
            raise f.fail("metafields", "each metafield must be an object")
        namespace = f.str_("namespace", item, null=False)
        key = f.str_("key", item, null=False)
        value = item.get("value")
        values[f"{namespace}.{key}"] = "" if value is None else str(value)
    return values


def parse_customer(record: Mapping[str, Any]) -> Customer:
    """Parse a `customers` record.

    Args:
        record: The raw record.

    Returns:
        The customer.

    Raises:
        RecordRejectedError: naming the field that cannot be read.
    """
    f = _Fields("customers", record)
    shop, customer_id = f.shop(), f.id_("id")  # the key first: its errors matter most
    address = f.obj("default_address") or {}
    spent = f.obj("amount_spent")
    # Read only to validate them at the edge: the CRM keeps neither.
    f.str_("display_name")
    f.str_("note")
    return Customer(
        shop_domain=shop,
        id=customer_id,
        updated_at=f.time("updated_at"),
        created_at=f.time("created_at", null=True),
        email=f.str_("email"),
        phone=f.str_("phone"),
        first_name=f.str_("first_name"),
        last_name=f.str_("last_name"),
        city=_within(f, "default_address", lambda: f.str_("city", address)),
        province=_within(f, "default_address", lambda: f.str_("province", address)),
        country=_within(f, "default_address", lambda: f.str_("country", address)),
        country_code=_within(f, "default_address", lambda: f.str_("country_code", address)),
        number_of_orders=f.count("number_of_orders", null=True) or 0,
        amount_spent=(
            f.decimal("amount_spent.amount", spent.get("amount")) if spent else Decimal("0")
        ),
        email_consent=_within(
            f, "email_marketing_consent", lambda: _consent(f, "email_marketing_consent")
        ),
        sms_consent=_within(
            f, "sms_marketing_consent", lambda: _consent(f, "sms_marketing_consent")
        ),
        tags=f.tags(),
        metafields=_metafields(f),
    )


def _line_item(f: _Fields, raw: Any) -> LineItem:
    if not isinstance(raw, Mapping):
        raise f.fail("line_items", "each line item must be an object")
    quantity = f.count("quantity", raw)
    unit = raw.get("original_unit_price_set")
    return LineItem(
        id=f.id_("id", raw, null=True),
        title=f.str_("title", raw),
        sku=f.str_("sku", raw),
        quantity=quantity,
        current_quantity=f.count("current_quantity", raw, null=True) or 0,
        unit_price=f.bag("line_items.original_unit_price_set", unit),
        product_id=f.id_("product_id", raw, null=True),
        variant_id=f.id_("variant_id", raw, null=True),
    )


def _refund(f: _Fields, raw: Any) -> Refund:
    if not isinstance(raw, Mapping):
        raise f.fail("refunds", "each refund must be an object")
    return Refund(
        id=f.id_("id", raw),
        created_at=f.time("created_at", raw),
        amount=f.bag("refunds.total_refunded_set", raw.get("total_refunded_set")),
    )


# Typed fast path ---------------------------------------------------------------------------
#
# The field-by-field reader above costs about as much per order as decoding its JSON. Most
# records are plainly valid, so each is first converted by msgspec (in C) into shapes that
# accept only a subset of what the reader accepts: ids and counts in range and not booleans,
# text within its bound and without NUL, money as plain decimal text of at most 15 digits
# and 4 decimals. Whatever that subset refuses goes through the reader, which accepts it or
# names the field; so what is accepted, and every rejection's reason, stay the reader's.

_NO_NUL = r"^[^\x00]*\Z"
_AMOUNT = r"^[0-9]{1,15}(?:\.[0-9]{1,4})?\Z"  # below 10**15, at most 4 decimals, not negative
_Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
_Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]


def _bounded(field: str, min_length: int = 0) -> Any:
    limit = TEXT_LIMITS.get(field, DEFAULT_TEXT_LIMIT)
    return Annotated[str, Meta(min_length=min_length, max_length=limit, pattern=_NO_NUL)]


class _Money(Struct):
    amount: Annotated[str, Meta(pattern=_AMOUNT)]


class _Bag(Struct):
    shop_money: _Money


class _LineItemShape(Struct):
    quantity: _Count
    id: _Id | None = None
    title: _bounded("title") | None = None  # type: ignore[valid-type]
    sku: _bounded("sku") | None = None  # type: ignore[valid-type]
    current_quantity: _Count | None = None
    original_unit_price_set: _Bag | None = None
    product_id: _Id | None = None
    variant_id: _Id | None = None


class _RefundShape(Struct):
    id: _Id
    created_at: str
    total_refunded_set: _Bag | None = None


class _OrderShape(Struct):
    shop_domain: _bounded("shop_domain", min_length=1)  # type: ignore[valid-type]
    id: _Id
    currency_code: _bounded("currency_code")  # type: ignore[valid-type]
    created_at: str
    updated_at: str
    name: _bounded("name") | None = None  # type: ignore[valid-type]
    customer_id: _Id | None = None
    total_price_set: _Bag | None = None
    current_total_price_set: _Bag | None = None
    total_refunded_set: _Bag | None = None
    subtotal_price_set: _Bag | None = None
    total_tax_set: _Bag | None = None
    total_discounts_set: _Bag | None = None
    cancelled_at: str | None = None
    cancel_reason: _bounded("cancel_reason") | None = None  # type: ignore[valid-type]
    closed_at: str | None = None
    financial_status: _bounded("financial_status") | None = None  # type: ignore[valid-type]
    fulfillment_status: _bounded("fulfillment_status") | None = None  # type: ignore[valid-type]
    email: _bounded("email") | None = None  # type: ignore[valid-type]
    line_items: list[_LineItemShape] | None = None
    refunds: list[_RefundShape] | None = None
    tags: list[_bounded("tag")] | None = None  # type: ignore[valid-type]
    source_name: _bounded("source_name") | None = None  # type: ignore[valid-type]
    test: Any = False


class _NotPlainError(Exception):
    """The typed path cannot vouch for a value: the field-by-field reader decides."""


def _plain_time(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _NotPlainError from None
    if parsed.tzinfo is None:
        raise _NotPlainError
    return parsed.astimezone(UTC)


def _plain_amount(bag: _Bag | None) -> Decimal:
    return _ZERO if bag is None else Decimal(bag.shop_money.amount)


def _typed_order(record: Mapping[str, Any]) -> Order | None:
    """The order, when every field it is read from is plainly valid; else None."""
    try:
        shape = msgspec.convert(record, _OrderShape)
        return Order(
            shop_domain=shape.shop_domain,
            id=shape.id,
            name=shape.name or f"#{shape.id}",
            created_at=_plain_time(shape.created_at),
            updated_at=_plain_time(shape.updated_at),
            customer_id=shape.customer_id,
            currency_code=shape.currency_code,
            total_price=_plain_amount(shape.total_price_set),
            current_total_price=_plain_amount(shape.current_total_price_set),
            total_refunded=_plain_amount(shape.total_refunded_set),
            subtotal_price=_plain_amount(shape.subtotal_price_set),
            total_tax=_plain_amount(shape.total_tax_set),
            total_discounts=_plain_amount(shape.total_discounts_set),
            cancelled_at=None if shape.cancelled_at is None else _plain_time(shape.cancelled_at),
            cancel_reason=shape.cancel_reason,
            closed_at=None if shape.closed_at is None else _plain_time(shape.closed_at),
            financial_status=shape.financial_status,
            fulfillment_status=shape.fulfillment_status,
            email=shape.email,
            line_items=tuple(
                LineItem(
                    id=item.id,
                    title=item.title,
                    sku=item.sku,
                    quantity=item.quantity,
                    current_quantity=item.current_quantity or 0,
                    unit_price=_plain_amount(item.original_unit_price_set),
                    product_id=item.product_id,
                    variant_id=item.variant_id,
                )
                for item in shape.line_items or ()
            ),
            refunds=tuple(
                Refund(
                    id=refund.id,
                    created_at=_plain_time(refund.created_at),
                    amount=_plain_amount(refund.total_refunded_set),
                )
                for refund in shape.refunds or ()
            ),
            tags=tuple(shape.tags or ()),
            source_name=shape.source_name,
            test=bool(shape.test),
        )
    except (msgspec.ValidationError, _NotPlainError):
        return None


def parse_order(record: Mapping[str, Any]) -> Order:
    """Parse an `orders` record (money from the shop-currency side of each MoneyBag).

    Args:
        record: The raw record.

    Returns:
        The order.

    Raises:
        RecordRejectedError: naming the field that cannot be read.
    """
    typed = _typed_order(record)
    if typed is not None:
        return typed
    return _read_order(record)


def _read_order(record: Mapping[str, Any]) -> Order:
    """The field-by-field reader of an order: it accepts what it can, or names the field."""
    f = _Fields("orders", record)
    shop, order_id = f.shop(), f.id_("id")  # the key first: its errors matter most
    currency = f.str_("currency_code", null=False)
    return Order(
        shop_domain=shop,
        id=order_id,
        name=str(f.str_("name", null=True) or f"#{record.get('id')}"),
        created_at=f.time("created_at"),
        updated_at=f.time("updated_at"),
        customer_id=f.id_("customer_id", null=True),
        currency_code=str(currency),
        total_price=f.money_bag("total_price_set"),
        current_total_price=f.money_bag("current_total_price_set"),
        total_refunded=f.money_bag("total_refunded_set"),
        subtotal_price=f.money_bag("subtotal_price_set"),
        total_tax=f.money_bag("total_tax_set"),
        total_discounts=f.money_bag("total_discounts_set"),
        cancelled_at=f.time("cancelled_at", null=True),
        cancel_reason=f.str_("cancel_reason"),
        closed_at=f.time("closed_at", null=True),
        financial_status=f.str_("financial_status"),
        fulfillment_status=f.str_("fulfillment_status"),
        email=f.str_("email"),
        line_items=tuple(
            _within(f, "line_items", partial(_line_item, f, item)) for item in f.list_("line_items")
        ),
        refunds=tuple(
            _within(f, "refunds", partial(_refund, f, item)) for item in f.list_("refunds")
        ),
        tags=f.tags(),
        source_name=f.str_("source_name"),
        test=bool(record.get("test", False)),
    )


def parse_roster(record: Mapping[str, Any]) -> tuple[str, int]:
    """Parse a `customer_roster` record.

    Args:
        record: The raw record.

    Returns:
        (shop_domain, customer id).

    Raises:
        RecordRejectedError: naming the field that cannot be read.
    """
    f = _Fields("customer_roster", record)
    return f.shop(), int(f.id_("id"))


MANIFEST_PARTS = ("window", "refund_sweep", "webhooks")  # webhooks: the queue's re-fetches


def _count(f: _Fields, field: str, source: Mapping[str, Any] | None = None) -> int:
    value = int(f.int_(field, source))
    if value < 0:
        raise f.fail(field, f"negative count {value}")
    return value


def parse_manifest(record: Mapping[str, Any]) -> ManifestPart:
    """Parse a `sync_manifest` record (docs/record-contract.md).

    Args:
        record: The raw record.

    Returns:
        The manifest part.

    Raises:
        RecordRejectedError: naming the field that cannot be read.
    """
    f = _Fields("sync_manifest", record)
    f.key = "/".join(str(record.get(k, "?")) for k in ("shop_domain", "run_id", "stream", "part"))
    shop, run_id = f.shop(), str(f.str_("run_id", null=False))
    stream, part = str(f.str_("stream", null=False)), str(f.str_("part", null=False))
    if stream not in CONTRACT_STREAMS:
        raise f.fail("stream", f"not a contract stream: {stream!r}")
    if part not in MANIFEST_PARTS:
        raise f.fail("part", f"not a manifest part: {part!r}")
    excluded = f.obj("excluded") or {}
    return ManifestPart(
        shop_domain=shop,
        run_id=run_id,
        stream=stream,
        part=part,
        selection=str(f.str_("selection") or ""),
        window_start=f.time("window_start", null=True),
        window_end=f.time("window_end", null=True),
        shopify_count_before=_count(f, "shopify_count_before"),
        shopify_count_after=_count(f, "shopify_count_after"),
        emitted=_count(f, "emitted"),
        excluded={
            str(k): _count(f, f"excluded.{k}", {f"excluded.{k}": v}) for k, v in excluded.items()
        },
        started_at=f.time("started_at"),
        finished_at=f.time("finished_at"),
    )
