"""GraphQL views of an order's children: line items, refunds, transactions."""

from __future__ import annotations

import functools
from typing import Any

from graphql import GraphQLResolveInfo

from shopify_emulator.model import LineItem, Order, Refund, Transaction, gid, iso
from shopify_emulator.views import RequestContext, cached_money_bag, list_connection, money_bag


class LineItemView:
    """GraphQL ``LineItem`` (money and product objects are built only when selected)."""

    def __init__(self, li: LineItem, order: Order) -> None:
        """Wrap a line of an order."""
        self.li = li
        self.order = order
        self.id = gid("LineItem", li.id)
        self.sku = li.sku
        self.title = li.title
        self.name = li.name
        self.vendor = li.vendor
        self.quantity = li.quantity
        self._rate, self._currency = order.rate, order.presentment_currency

    def currentQuantity(self, info: GraphQLResolveInfo) -> int:  # noqa: N802
        return max(0, self.li.quantity - self.order.refunded_quantity(self.li.id))

    def refundableQuantity(self, info: GraphQLResolveInfo) -> int:  # noqa: N802
        return self.currentQuantity(info)

    def originalUnitPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self.li.unit_cents, self._rate, self._currency)

    def discountedUnitPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        li = self.li
        cents = li.unit_cents - li.discount_cents // li.quantity
        return cached_money_bag(cents, self._rate, self._currency)

    def originalTotalSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self.li.unit_cents * self.li.quantity, self._rate, self._currency)

    def discountedTotalSet(self, info: GraphQLResolveInfo, **_: Any) -> dict[str, Any]:  # noqa: N802
        li = self.li
        cents = li.unit_cents * li.quantity - li.discount_cents
        return cached_money_bag(cents, self._rate, self._currency)

    def product(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:
        return _product(self.li.product_id)

    def variant(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:
        li = self.li
        if li.variant_id is None:
            return None
        return _variant(li.variant_id, li.sku, li.variant_title, li.product_id)


@functools.lru_cache(maxsize=4096)
def _variant(
    variant_id: int, sku: str | None, title: str | None, product_id: int | None
) -> dict[str, Any]:
    # Shared like products (never changed by callers): bulk output writes each one's text once.
    return {
        "id": gid("ProductVariant", variant_id),
        "legacyResourceId": str(variant_id),
        "sku": sku,
        "title": title or "Default Title",
        "product": _product(product_id),
    }


@functools.lru_cache(maxsize=4096)
def _product(product_id: int | None) -> dict[str, Any] | None:
    # The catalog never changes and nothing mutates these dicts: one per product is enough.
    from shopify_emulator.listing import product_dict  # noqa: PLC0415

    return product_dict(product_id) if product_id is not None else None


class RefundView:
    """GraphQL ``Refund``."""

    def __init__(self, refund: Refund, order: Order, ctx: RequestContext) -> None:
        """Wrap a refund of an order."""
        self.r = refund
        self.order = order
        self.ctx = ctx
        self.id = gid("Refund", refund.id)
        self.legacyResourceId = str(refund.id)
        self.createdAt = iso(refund.created_at)
        self.updatedAt = iso(refund.updated_at)
        self.note = refund.note
        self.totalRefundedSet = money_bag(refund.amount_cents, order)

    def refundLineItems(self, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:  # noqa: N802
        lines = {li.id: li for li in self.order.line_items}
        views = [
            {
                "id": gid("RefundLineItem", rl.id),
                "quantity": rl.quantity,
                "lineItem": LineItemView(lines[rl.line_item_id], self.order),
                "subtotalSet": money_bag(rl.subtotal_cents, self.order),
                "priceSet": money_bag(rl.subtotal_cents // max(1, rl.quantity), self.order),
                "restocked": False,
            }
            for rl in self.r.lines
            if rl.line_item_id in lines
        ]
        return list_connection(views, args, self.ctx.unbounded)

    def transactions(self, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        views = [transaction_view(t, self.order) for t in self.r.transactions]
        return list_connection(views, args, self.ctx.unbounded)


def transaction_view(t: Transaction, order: Order) -> dict[str, Any]:
    """GraphQL ``OrderTransaction`` as a plain dict."""
    return {
        "id": gid("OrderTransaction", t.id),
        "kind": t.kind,
        "status": t.status,
        "gateway": t.gateway,
        "amountSet": money_bag(t.amount_cents, order),
        "processedAt": iso(t.created_at),
        "createdAt": iso(t.created_at),
        "test": t.test,
    }
