"""GraphQL nodes -> the records of docs/record-contract.md (pure functions, no I/O).

Both paginated pages (``{"nodes": [...]}``) and reassembled bulk lines (plain lists) feed
these functions, so each connection is read through :func:`nodes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tap_shopify_history.shopify.bulk_orders import MoneyBag, OrderRow
from tap_shopify_history.shopify.ids import gid_to_id

_GID_PREFIX = "gid://shopify/"


def nodes(value: Any) -> list[dict[str, Any]]:
    """The items of a connection, whatever its shape (list, ``nodes`` or ``edges``).

    Args:
        value: A list, ``{"nodes": [...]}``, ``{"edges": [{"node": ...}]}`` or None.

    Returns:
        The list of nodes.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if "nodes" in value:
        return list(value["nodes"])
    return [edge["node"] for edge in value.get("edges", [])]


def utc_time(value: str | None) -> str | None:
    """Normalise an ISO 8601 time to UTC with a ``Z`` suffix, second precision.

    Args:
        value: An ISO 8601 time or None.

    Returns:
        ``YYYY-MM-DDTHH:MM:SSZ`` or None.
    """
    if value is None:
        return None
    # Shopify already sends this exact shape; skip parsing on the hot path.
    if len(value) == 20 and value[-1] == "Z":
        return value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A MoneyV2 as ``{"amount": "12.50", "currency_code": "USD"}`` (amount stays a string).

    Args:
        value: A GraphQL ``MoneyV2``.

    Returns:
        The contract's money object or None.
    """
    if value is None:
        return None
    return {"amount": str(value["amount"]), "currency_code": value["currencyCode"]}


def money_bag(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A MoneyBag with shop and presentment money.

    Args:
        value: A GraphQL ``MoneyBag``.

    Returns:
        The contract's MoneyBag or None.
    """
    if value is None:
        return None
    # `money` written out twice: an order holds about twenty bags (the hot path).
    shop = value.get("shopMoney")
    presentment = value.get("presentmentMoney")
    return {
        "shop_money": None
        if shop is None
        else {"amount": str(shop["amount"]), "currency_code": shop["currencyCode"]},
        "presentment_money": None
        if presentment is None
        else {"amount": str(presentment["amount"]), "currency_code": presentment["currencyCode"]},
    }


# Products and variants recur across orders: their numeric ids are kept, within bounds.
_REF_IDS: dict[str, int | None] = {}
_REF_IDS_MAX = 50_000


def _ref_numeric_id(gid: str) -> int | None:
    found = _REF_IDS.get(gid)
    if found is None:
        if len(_REF_IDS) >= _REF_IDS_MAX:
            _REF_IDS.clear()
        found = _REF_IDS[gid] = _numeric_id(gid)
    return found


def _numeric_id(gid: str | None) -> int | None:
    # gid_to_id's common case without its checks; anything unusual goes through it (and
    # its errors).
    if gid is not None and gid.startswith(_GID_PREFIX):
        tail = gid[gid.rfind("/") + 1 :]
        if tail.isdigit():
            return int(tail)
    return gid_to_id(gid)


def _consent(value: Mapping[str, Any] | None, *, sms: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    consent = {
        "state": value.get("marketingState"),
        "opt_in_level": value.get("marketingOptInLevel"),
        "consent_updated_at": utc_time(value.get("consentUpdatedAt")),
    }
    if sms:
        consent["consent_collected_from"] = value.get("consentCollectedFrom")
    return consent


def _address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "city": value.get("city"),
        "province": value.get("province"),
        "province_code": value.get("provinceCode"),
        "country": value.get("country"),
        "country_code": value.get("countryCodeV2"),
        "zip": value.get("zip"),
    }


def _metafields(value: Any, namespaces: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {"namespace": m["namespace"], "key": m["key"], "value": m["value"], "type": m["type"]}
        for m in nodes(value)
        if m.get("namespace") in namespaces
    ]


def customer_record(
    node: Mapping[str, Any], shop_domain: str, namespaces: Iterable[str] = ()
) -> dict[str, Any]:
    """A ``customers`` record.

    Args:
        node: A GraphQL ``Customer``.
        shop_domain: The shop's myshopify domain.
        namespaces: Metafield namespaces to keep (empty: no metafields).

    Returns:
        The record.
    """
    return {
        "shop_domain": shop_domain,
        "id": gid_to_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "email": node.get("email"),
        "phone": node.get("phone"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "display_name": node.get("displayName"),
        "default_address": _address(node.get("defaultAddress")),
        "number_of_orders": int(node.get("numberOfOrders") or 0),
        "amount_spent": money(node.get("amountSpent")),
        "email_marketing_consent": _consent(node.get("emailMarketingConsent"), sms=False),
        "sms_marketing_consent": _consent(node.get("smsMarketingConsent"), sms=True),
        "tags": list(node.get("tags") or []),
        "state": node.get("state"),
        "verified_email": bool(node.get("verifiedEmail")),
        "note": node.get("note"),
        "created_at": utc_time(node.get("createdAt")),
        "updated_at": utc_time(node["updatedAt"]),
        "metafields": _metafields(node.get("metafields"), frozenset(namespaces)),
    }


def _ref_id(value: Mapping[str, Any] | None) -> int | None:
    return _numeric_id(value["id"]) if value else None


def line_item_record(node: Mapping[str, Any]) -> dict[str, Any]:
    """One element of an order's ``line_items``.

    Args:
        node: A GraphQL ``LineItem``.

    Returns:
        The line item.
    """
    get = node.get
    product = get("product")
    variant = get("variant")
    return {
        "id": _numeric_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "sku": get("sku"),
        "title": get("title"),
        "name": get("name"),
        "quantity": get("quantity"),
        "current_quantity": get("currentQuantity"),
        "vendor": get("vendor"),
        "product_id": _ref_numeric_id(product["id"]) if product else None,
        "variant_id": _ref_numeric_id(variant["id"]) if variant else None,
        "original_unit_price_set": money_bag(get("originalUnitPriceSet")),
        "discounted_unit_price_set": money_bag(get("discountedUnitPriceSet")),
        "original_total_set": money_bag(get("originalTotalSet")),
        "discounted_total_set": money_bag(get("discountedTotalSet")),
    }


def refund_record(node: Mapping[str, Any]) -> dict[str, Any]:
    """One element of an order's ``refunds``.

    Args:
        node: A GraphQL ``Refund``.

    Returns:
        The refund.
    """
    return {
        "id": gid_to_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "created_at": utc_time(node.get("createdAt")),
        "note": node.get("note"),
        "total_refunded_set": money_bag(node.get("totalRefundedSet")),
        "refund_line_items": [
            {
                "line_item_id": _ref_id(item.get("lineItem")),
                "quantity": item.get("quantity"),
                "subtotal_set": money_bag(item.get("subtotalSet")),
            }
            for item in nodes(node.get("refundLineItems"))
        ],
    }


_ORDER_MONEY = {
    "total_price_set": "totalPriceSet",
    "subtotal_price_set": "subtotalPriceSet",
    "total_tax_set": "totalTaxSet",
    "total_discounts_set": "totalDiscountsSet",
    "total_shipping_price_set": "totalShippingPriceSet",
    "current_total_price_set": "currentTotalPriceSet",
    "current_subtotal_price_set": "currentSubtotalPriceSet",
    "current_total_tax_set": "currentTotalTaxSet",
    "current_total_discounts_set": "currentTotalDiscountsSet",
    "total_refunded_set": "totalRefundedSet",
}


def order_record(node: Mapping[str, Any] | OrderRow, shop_domain: str) -> dict[str, Any]:
    """An ``orders`` record.

    Args:
        node: A GraphQL ``Order`` with ``lineItems`` and ``refunds`` (or a typed bulk row).
        shop_domain: The shop's myshopify domain.

    Returns:
        The record.
    """
    if isinstance(node, OrderRow):
        return _row_order(node, shop_domain)
    get = node.get
    customer = get("customer")
    return {
        "shop_domain": shop_domain,
        "id": _numeric_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "name": get("name"),
        "created_at": utc_time(get("createdAt")),
        "processed_at": utc_time(get("processedAt")),
        "updated_at": utc_time(node["updatedAt"]),
        "cancelled_at": utc_time(get("cancelledAt")),
        "closed_at": utc_time(get("closedAt")),
        "cancel_reason": get("cancelReason"),
        "test": bool(get("test")),
        "customer_id": _numeric_id(customer["id"]) if customer else None,
        "email": get("email"),
        "phone": get("phone"),
        "currency_code": get("currencyCode"),
        "presentment_currency_code": get("presentmentCurrencyCode"),
        # The contract's ten order MoneyBags, in the order of _ORDER_MONEY.
        "total_price_set": money_bag(get("totalPriceSet")),
        "subtotal_price_set": money_bag(get("subtotalPriceSet")),
        "total_tax_set": money_bag(get("totalTaxSet")),
        "total_discounts_set": money_bag(get("totalDiscountsSet")),
        "total_shipping_price_set": money_bag(get("totalShippingPriceSet")),
        "current_total_price_set": money_bag(get("currentTotalPriceSet")),
        "current_subtotal_price_set": money_bag(get("currentSubtotalPriceSet")),
        "current_total_tax_set": money_bag(get("currentTotalTaxSet")),
        "current_total_discounts_set": money_bag(get("currentTotalDiscountsSet")),
        "total_refunded_set": money_bag(get("totalRefundedSet")),
        "financial_status": get("displayFinancialStatus"),
        "fulfillment_status": get("displayFulfillmentStatus"),
        "line_items": [line_item_record(item) for item in nodes(get("lineItems"))],
        "refunds": [refund_record(refund) for refund in get("refunds") or []],
        "tags": list(get("tags") or []),
        "source_name": get("sourceName"),
    }


def _row_bag(bag: MoneyBag | None) -> dict[str, Any] | None:
    # `money_bag` of a typed bulk row (shopify/bulk_orders.py).
    if bag is None:
        return None
    shop = bag.shopMoney
    presentment = bag.presentmentMoney
    return {
        "shop_money": None
        if shop is None
        else {"amount": str(shop.amount), "currency_code": shop.currencyCode},
        "presentment_money": None
        if presentment is None
        else {"amount": str(presentment.amount), "currency_code": presentment.currencyCode},
    }


def _row_line_item(row: OrderRow) -> dict[str, Any]:
    # `line_item_record` of a typed bulk row: the same record, read as attributes.
    product, variant = row.product, row.variant
    return {
        "id": _numeric_id(row.id),
        "admin_graphql_api_id": row.id,
        "sku": row.sku,
        "title": row.title,
        "name": row.name,
        "quantity": row.quantity,
        "current_quantity": row.currentQuantity,
        "vendor": row.vendor,
        "product_id": _ref_numeric_id(product.id) if product else None,
        "variant_id": _ref_numeric_id(variant.id) if variant else None,
        "original_unit_price_set": _row_bag(row.originalUnitPriceSet),
        "discounted_unit_price_set": _row_bag(row.discountedUnitPriceSet),
        "original_total_set": _row_bag(row.originalTotalSet),
        "discounted_total_set": _row_bag(row.discountedTotalSet),
    }


def _row_order(row: OrderRow, shop_domain: str) -> dict[str, Any]:
    # `order_record` of a typed bulk row (an order without refunds): the same record.
    customer = row.customer
    return {
        "shop_domain": shop_domain,
        "id": _numeric_id(row.id),
        "admin_graphql_api_id": row.id,
        "name": row.name,
        "created_at": utc_time(row.createdAt),
        "processed_at": utc_time(row.processedAt),
        "updated_at": utc_time(row.updatedAt),
        "cancelled_at": utc_time(row.cancelledAt),
        "closed_at": utc_time(row.closedAt),
        "cancel_reason": row.cancelReason,
        "test": bool(row.test),
        "customer_id": _numeric_id(customer.id) if customer else None,
        "email": row.email,
        "phone": row.phone,
        "currency_code": row.currencyCode,
        "presentment_currency_code": row.presentmentCurrencyCode,
        "total_price_set": _row_bag(row.totalPriceSet),
        "subtotal_price_set": _row_bag(row.subtotalPriceSet),
        "total_tax_set": _row_bag(row.totalTaxSet),
        "total_discounts_set": _row_bag(row.totalDiscountsSet),
        "total_shipping_price_set": _row_bag(row.totalShippingPriceSet),
        "current_total_price_set": _row_bag(row.currentTotalPriceSet),
        "current_subtotal_price_set": _row_bag(row.currentSubtotalPriceSet),
        "current_total_tax_set": _row_bag(row.currentTotalTaxSet),
        "current_total_discounts_set": _row_bag(row.currentTotalDiscountsSet),
        "total_refunded_set": _row_bag(row.totalRefundedSet),
        "financial_status": row.displayFinancialStatus,
        "fulfillment_status": row.displayFulfillmentStatus,
        "line_items": [_row_line_item(item) for item in row.lineItems or ()],
        "refunds": [refund_record(refund) for refund in row.refunds or []],
        "tags": list(row.tags or []),
        "source_name": row.sourceName,
    }


def roster_record(node: Mapping[str, Any], shop_domain: str) -> dict[str, Any]:
    """A ``customer_roster`` record.

    Args:
        node: A GraphQL ``Customer`` with ``id`` and ``updatedAt``.
        shop_domain: The shop's myshopify domain.

    Returns:
        The record.
    """
    return {
        "shop_domain": shop_domain,
        "id": gid_to_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "updated_at": utc_time(node.get("updatedAt")),
    }
