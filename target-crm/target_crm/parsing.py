"""Strict record parsing: raw Singer records to domain values, or a named rejection.

singer-sdk's per-record JSON Schema validation is off by default (it costs ~90% of the CPU);
this parser is the validation: every field the rules read is checked, money is parsed as
Decimal (a float is refused), and an error names the stream, the record key and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct
from target_runtime.edge import DEFAULT_TEXT_LIMIT, MAX_COUNT, MAX_ID, PLAIN_AMOUNT_PATTERN
from target_runtime.fields import FieldReader

from target_crm.domain.models import Consent, Customer, LineItem, Order, Refund
from target_crm.domain.reconciliation import CONTRACT_STREAMS, ManifestPart
from target_crm.edge import TEXT_LIMITS
from target_crm.exceptions import RecordRejectedError

_ZERO = Decimal(0)


class _Fields(FieldReader):
    """The runtime's field reader, with this store's text bounds and rejection type."""

    rejection = RecordRejectedError
    text_limits = TEXT_LIMITS


def _bag(f: _Fields, field: str, source: Mapping[str, Any] | None = None) -> Decimal:
    """The shop-currency amount of the MoneyBag in ``field`` (zero when absent)."""
    return f.money(f.value(field, source), field, null_is_zero=True)


def _consent(f: _Fields, field: str) -> Consent | None:
    raw = f.obj(field)
    if raw is None:
        return None
    state = f.text("state", raw, optional=False)
    return Consent(
        state=str(state),
        opt_in_level=f.text("opt_in_level", raw),
        updated_at=f.moment("consent_updated_at", raw, optional=True),
    )


def _metafields(f: _Fields) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in f.list_("metafields"):
        if not isinstance(item, Mapping):
            raise f.fail("metafields", "each metafield must be an object")
        namespace = f.text("namespace", item, optional=False)
        key = f.text("key", item, optional=False)
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
    shop, customer_id = f.shop(), f.integer("id")  # the key first: its errors matter most
    address = f.obj("default_address") or {}
    spent = f.obj("amount_spent")
    # Read only to validate them at the edge: the CRM keeps neither.
    f.text("display_name")
    f.text("note")
    return Customer(
        shop_domain=shop,
        id=customer_id,
        updated_at=f.moment("updated_at"),
        created_at=f.moment("created_at", optional=True),
        email=f.text("email"),
        phone=f.text("phone"),
        first_name=f.text("first_name"),
        last_name=f.text("last_name"),
        city=f.within("default_address", lambda: f.text("city", address)),
        province=f.within("default_address", lambda: f.text("province", address)),
        country=f.within("default_address", lambda: f.text("country", address)),
        country_code=f.within("default_address", lambda: f.text("country_code", address)),
        number_of_orders=f.count("number_of_orders", optional=True) or 0,
        amount_spent=(
            f.amount("amount_spent.amount", spent.get("amount")) if spent else Decimal("0")
        ),
        email_consent=f.within(
            "email_marketing_consent", lambda: _consent(f, "email_marketing_consent")
        ),
        sms_consent=f.within("sms_marketing_consent", lambda: _consent(f, "sms_marketing_consent")),
        tags=f.tags(),
        metafields=_metafields(f),
    )


def _line_item(f: _Fields, raw: Any) -> LineItem:
    if not isinstance(raw, Mapping):
        raise f.fail("line_items", "each line item must be an object")
    quantity = f.count("quantity", raw)
    return LineItem(
        id=f.integer("id", raw, optional=True),
        title=f.text("title", raw),
        sku=f.text("sku", raw),
        quantity=quantity,
        current_quantity=f.count("current_quantity", raw, optional=True) or 0,
        unit_price=_bag(f, "original_unit_price_set", raw),
        product_id=f.integer("product_id", raw, optional=True),
        variant_id=f.integer("variant_id", raw, optional=True),
    )


def _refund(f: _Fields, raw: Any) -> Refund:
    if not isinstance(raw, Mapping):
        raise f.fail("refunds", "each refund must be an object")
    return Refund(
        id=f.integer("id", raw),
        created_at=f.moment("created_at", raw),
        amount=_bag(f, "total_refunded_set", raw),
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
_Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
_Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]


def _bounded(field: str, min_length: int = 0) -> Any:
    limit = TEXT_LIMITS.get(field, DEFAULT_TEXT_LIMIT)
    return Annotated[str, Meta(min_length=min_length, max_length=limit, pattern=_NO_NUL)]


class _Money(Struct):
    amount: Annotated[str, Meta(pattern=PLAIN_AMOUNT_PATTERN)]


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
    shop, order_id = f.shop(), f.integer("id")  # the key first: its errors matter most
    currency = f.text("currency_code", optional=False)
    return Order(
        shop_domain=shop,
        id=order_id,
        name=str(f.text("name", optional=True) or f"#{record.get('id')}"),
        created_at=f.moment("created_at"),
        updated_at=f.moment("updated_at"),
        customer_id=f.integer("customer_id", optional=True),
        currency_code=str(currency),
        total_price=_bag(f, "total_price_set"),
        current_total_price=_bag(f, "current_total_price_set"),
        total_refunded=_bag(f, "total_refunded_set"),
        subtotal_price=_bag(f, "subtotal_price_set"),
        total_tax=_bag(f, "total_tax_set"),
        total_discounts=_bag(f, "total_discounts_set"),
        cancelled_at=f.moment("cancelled_at", optional=True),
        cancel_reason=f.text("cancel_reason"),
        closed_at=f.moment("closed_at", optional=True),
        financial_status=f.text("financial_status"),
        fulfillment_status=f.text("fulfillment_status"),
        email=f.text("email"),
        line_items=tuple(
            f.within("line_items", partial(_line_item, f, item)) for item in f.list_("line_items")
        ),
        refunds=tuple(
            f.within("refunds", partial(_refund, f, item)) for item in f.list_("refunds")
        ),
        tags=f.tags(),
        source_name=f.text("source_name"),
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
    return f.shop(), int(f.integer("id"))


MANIFEST_PARTS = ("window", "refund_sweep", "webhooks")  # webhooks: the queue's re-fetches


def _count(f: _Fields, field: str, source: Mapping[str, Any] | None = None) -> int:
    # Manifest counts are Shopify's own totals: any non-negative 64-bit integer.
    return int(f.count(field, source, limit=MAX_ID) or 0)


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
    shop, run_id = f.shop(), str(f.text("run_id", optional=False))
    stream, part = str(f.text("stream", optional=False)), str(f.text("part", optional=False))
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
        selection=str(f.text("selection") or ""),
        window_start=f.moment("window_start", optional=True),
        window_end=f.moment("window_end", optional=True),
        shopify_count_before=_count(f, "shopify_count_before"),
        shopify_count_after=_count(f, "shopify_count_after"),
        emitted=_count(f, "emitted"),
        excluded={
            str(k): _count(f, f"excluded.{k}", {f"excluded.{k}": v}) for k, v in excluded.items()
        },
        started_at=f.moment("started_at"),
        finished_at=f.moment("finished_at"),
    )
