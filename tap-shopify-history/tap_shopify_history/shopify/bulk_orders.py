"""Rows of the orders bulk result decoded into typed msgspec Structs, not dicts.

An order arrives as one JSON line with ten MoneyBags and a line per line item with four
more. Decoded as dicts, that is some sixty dicts per order before the record (another
sixty) is built from them with a hundred ``dict.get`` calls. Decoded into Structs (no
dict, no hash table, untracked by the garbage collector), the same values cost about
half, and :func:`tap_shopify_history.shopify.records.order_record` reads them as
attributes. Every field is optional, as ``dict.get`` is, and typed loosely (``Any`` for
scalars): what a field holds is exactly what generic decoding gives.

Only orders that need nothing filled in after the bulk job (no refunds) take this path;
the others are decoded as dicts, which the refund lookups complete in place.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Money(msgspec.Struct, gc=False):
    """A ``MoneyV2``."""

    amount: Any
    currencyCode: Any  # noqa: N815 - Shopify's field names, here and below


class MoneyBag(msgspec.Struct, gc=False):
    """A ``MoneyBag``."""

    shopMoney: Money | None = None  # noqa: N815
    presentmentMoney: Money | None = None  # noqa: N815


class Ref(msgspec.Struct, gc=False):
    """A reference to another object (``customer { id }``)."""

    id: Any = msgspec.UNSET


class OrderRow(msgspec.Struct, gc=False):
    """One line of the orders bulk result: an order, or one of its line items."""

    id: Any = msgspec.UNSET
    updatedAt: Any = msgspec.UNSET  # noqa: N815
    parent_id: Any = msgspec.field(default=None, name="__parentId")
    # Order fields.
    name: Any = None
    createdAt: Any = None  # noqa: N815
    processedAt: Any = None  # noqa: N815
    cancelledAt: Any = None  # noqa: N815
    closedAt: Any = None  # noqa: N815
    cancelReason: Any = None  # noqa: N815
    test: Any = None
    customer: Ref | None = None
    email: Any = None
    phone: Any = None
    currencyCode: Any = None  # noqa: N815
    presentmentCurrencyCode: Any = None  # noqa: N815
    totalPriceSet: MoneyBag | None = None  # noqa: N815
    subtotalPriceSet: MoneyBag | None = None  # noqa: N815
    totalTaxSet: MoneyBag | None = None  # noqa: N815
    totalDiscountsSet: MoneyBag | None = None  # noqa: N815
    totalShippingPriceSet: MoneyBag | None = None  # noqa: N815
    currentTotalPriceSet: MoneyBag | None = None  # noqa: N815
    currentSubtotalPriceSet: MoneyBag | None = None  # noqa: N815
    currentTotalTaxSet: MoneyBag | None = None  # noqa: N815
    currentTotalDiscountsSet: MoneyBag | None = None  # noqa: N815
    totalRefundedSet: MoneyBag | None = None  # noqa: N815
    displayFinancialStatus: Any = None  # noqa: N815
    displayFulfillmentStatus: Any = None  # noqa: N815
    tags: Any = None
    sourceName: Any = None  # noqa: N815
    refunds: Any = None
    # Line item fields.
    sku: Any = None
    title: Any = None
    quantity: Any = None
    currentQuantity: Any = None  # noqa: N815
    vendor: Any = None
    product: Ref | None = None
    variant: Ref | None = None
    originalUnitPriceSet: MoneyBag | None = None  # noqa: N815
    discountedUnitPriceSet: MoneyBag | None = None  # noqa: N815
    originalTotalSet: MoneyBag | None = None  # noqa: N815
    discountedTotalSet: MoneyBag | None = None  # noqa: N815
    # The order's line items (its child rows), attached after decoding.
    lineItems: Any = None  # noqa: N815

    def get(self, key: str, default: Any = None) -> Any:
        """A field by its GraphQL name, as ``dict.get`` reads a decoded node.

        Args:
            key: The field name (``refunds``).
            default: What a field the row does not have gives.

        Returns:
            The value.
        """
        value = getattr(self, key, default)
        return default if value is msgspec.UNSET else value


_decode_rows = msgspec.json.Decoder(list[OrderRow]).decode
_LINE_ITEM = "gid://shopify/LineItem/"


def decode_order(lines: bytes) -> OrderRow | None:
    """An order and its line items from its held lines (a JSON array), or None.

    Args:
        lines: ``[order, line item, ...]``.

    Returns:
        The order with ``lineItems`` attached; None when a row is not what this path
        expects (a child other than a line item of the order, a line without its id),
        so the caller decodes it generically.
    """
    try:
        rows = _decode_rows(lines)
    except msgspec.ValidationError:
        return None  # a field of an unexpected type: the generic path reads it as it is
    order = rows[0]
    if order.id is msgspec.UNSET or order.updatedAt is msgspec.UNSET:
        return None
    items = rows[1:]
    for item in items:
        if item.parent_id != order.id or not (
            isinstance(item.id, str) and item.id.startswith(_LINE_ITEM)
        ):
            return None
        item.parent_id = None
    if items:
        order.lineItems = items
    return order
