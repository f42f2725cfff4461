"""Every GraphQL document the tap sends (each validated against Shopify's 2025-01 schema).

Paginated documents use ``nodes``; bulk documents use ``edges { node }`` and no page sizes,
as Shopify's bulk operation docs show.
"""

from __future__ import annotations

from typing import Any

MONEY_V2 = "{ amount currencyCode }"
MONEY_BAG = f"{{ shopMoney {MONEY_V2} presentmentMoney {MONEY_V2} }}"
# A refund line of an order whose every amount is in one currency: the presentment side is
# the shop side (refunds.py copies it), so the lookup asks for shop money only.
SHOP_MONEY_BAG = f"{{ shopMoney {MONEY_V2} }}"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
METAFIELD_FIELDS = "id namespace key value type"
# Nested page sizes multiply a page's requested cost (Shopify: 2 + first x node cost), and
# the requested cost caps a page at 1000 points, so they are sized to what orders hold: most
# orders have at most five lines (the emulator's at most five, 2.4 on average) and a refund
# names one to three of them. An order with more is completed afterwards: its other line
# items by ORDER_LINE_ITEMS_PAGE, its other refund lines by a refund lookup (refunds.py).
LINE_ITEMS_FIRST = 5
REFUND_LINES_FIRST = 3
METAFIELD_PAGE_SIZE = 50
REFUND_LINES_SINGLE_PAGE = 180

CUSTOMER_FIELDS = f"""
id legacyResourceId email phone firstName lastName displayName
defaultAddress {{ city province provinceCode country countryCodeV2 zip }}
numberOfOrders amountSpent {MONEY_V2}
emailMarketingConsent {{ marketingState marketingOptInLevel consentUpdatedAt }}
smsMarketingConsent {{
  marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom
}}
tags state verifiedEmail note createdAt updatedAt
"""

LINE_ITEM_FIELDS = f"""
id sku title name quantity currentQuantity vendor product {{ id }} variant {{ id }}
originalUnitPriceSet {MONEY_BAG} discountedUnitPriceSet {MONEY_BAG}
originalTotalSet {MONEY_BAG} discountedTotalSet {MONEY_BAG}
"""

REFUND_LINE_ITEM_FIELDS = f"quantity lineItem {{ id }} subtotalSet {MONEY_BAG}"

ORDER_FIELDS = f"""
id legacyResourceId name createdAt processedAt updatedAt cancelledAt cancelReason closedAt
test customer {{ id }} email phone currencyCode presentmentCurrencyCode
totalPriceSet {MONEY_BAG} subtotalPriceSet {MONEY_BAG} totalTaxSet {MONEY_BAG}
totalDiscountsSet {MONEY_BAG} totalShippingPriceSet {MONEY_BAG}
currentTotalPriceSet {MONEY_BAG} currentSubtotalPriceSet {MONEY_BAG}
currentTotalTaxSet {MONEY_BAG} currentTotalDiscountsSet {MONEY_BAG}
totalRefundedSet {MONEY_BAG}
displayFinancialStatus displayFulfillmentStatus tags sourceName
"""

REFUND_FIELDS = f"id createdAt updatedAt note totalRefundedSet {MONEY_BAG}"

# What these selections cost, by Shopify's calculated-cost rules (shopify.dev "rate
# limits"; the emulator's cost.py): every object 1 point, scalars and enums 0, a connection
# 2 plus its nodes. A MoneyBag is three objects (the bag, shopMoney, presentmentMoney). The
# counts are read off the selections above, so a field added there is priced here too.
OBJECT_POINTS = 1
CONNECTION_POINTS = 2
MONEY_BAG_POINTS = 3 * OBJECT_POINTS
SHOP_MONEY_BAG_POINTS = 2 * OBJECT_POINTS
# The order and `customer { id }`; the line, `product { id }`, `variant { id }`; the
# refund line and `lineItem { id }`; the customer, its address, amount spent and consents.
ORDER_OBJECT_POINTS = 2 * OBJECT_POINTS + ORDER_FIELDS.count(MONEY_BAG) * MONEY_BAG_POINTS
LINE_ITEM_POINTS = 3 * OBJECT_POINTS + LINE_ITEM_FIELDS.count(MONEY_BAG) * MONEY_BAG_POINTS
REFUND_POINTS = OBJECT_POINTS + REFUND_FIELDS.count(MONEY_BAG) * MONEY_BAG_POINTS
REFUND_LINE_POINTS = 2 * OBJECT_POINTS + REFUND_LINE_ITEM_FIELDS.count(MONEY_BAG) * MONEY_BAG_POINTS
CUSTOMER_POINTS = OBJECT_POINTS * (1 + CUSTOMER_FIELDS.count("{"))
# What an order of the store holds on average, for an estimate before anything was
# measured (the emulator's orders: 2.4 lines; about one order in eight refunded, with one
# or two refund lines). A run's own pages replace it with what they really cost.
TYPICAL_LINE_ITEMS = 2.4
TYPICAL_REFUNDS = 0.13
TYPICAL_REFUND_LINES = 0.2


def order_page_points(line_items: float, refunds: float = 0.0, refund_lines: float = 0.0) -> float:
    """Points one order of a page costs, by what it holds (Shopify's calculated cost).

    With the page sizes as arguments this is the order's requested cost; with what it
    really holds, its actual cost.

    Args:
        line_items: Line items (``first:`` of the page, or held).
        refunds: Refunds (Shopify prices the ``refunds`` list at one when requested).
        refund_lines: Refund lines, all refunds together.

    Returns:
        The points.

    Example:
        >>> order_page_points(TYPICAL_LINE_ITEMS, TYPICAL_REFUNDS, TYPICAL_REFUND_LINES)
        71.78
    """
    return round(
        ORDER_OBJECT_POINTS
        + CONNECTION_POINTS
        + line_items * LINE_ITEM_POINTS
        + refunds * (REFUND_POINTS + CONNECTION_POINTS)
        + refund_lines * REFUND_LINE_POINTS,
        2,
    )


def order_page_requested_points() -> float:
    """The requested cost of one order of a page: its nested connections' page sizes."""
    return order_page_points(LINE_ITEMS_FIRST, 1, REFUND_LINES_FIRST)


def typical_order_points() -> float:
    """The actual cost of a typical order in pages (before this store's were measured)."""
    return order_page_points(TYPICAL_LINE_ITEMS, TYPICAL_REFUNDS, TYPICAL_REFUND_LINES)


def customer_page_points(metafields: float = 0.0) -> float:
    """Points one customer of a page costs (its objects, and its metafields if asked).

    Args:
        metafields: Metafields per customer (requested: the page size; actual: held).

    Returns:
        The points.
    """
    extra = CONNECTION_POINTS + metafields * OBJECT_POINTS if metafields else 0.0
    return float(CUSTOMER_POINTS + extra)


# Shopify bulk queries reject a connection inside a list field, and `refunds` is a list,
# so bulk results carry refunds without their line items; the tap fetches those afterwards
# for the (few) orders with refunds, through ORDER_REFUNDS_BY_IDS.


def refunds_with_lines(first: int) -> str:
    """The ``refunds`` selection with up to ``first`` refund line items each.

    Args:
        first: Refund line items per refund.

    Returns:
        The selection.
    """
    return (
        f"refunds {{ {REFUND_FIELDS} refundLineItems(first: {first}) "
        f"{{ {PAGE_INFO} nodes {{ {REFUND_LINE_ITEM_FIELDS} }} }} }}"
    )


def refund_lines_only(first: int, *, shop_money_only: bool = False) -> str:
    """Only each refund's id and up to ``first`` refund line items (the rest is in bulk rows).

    Args:
        first: Refund line items per refund.
        shop_money_only: Ask each line's ``subtotalSet`` for its shop money only (an order
            whose every amount is in one currency; the caller copies it to presentment).

    Returns:
        The selection.
    """
    fields = REFUND_LINE_ITEM_FIELDS
    if shop_money_only:
        fields = fields.replace(MONEY_BAG, SHOP_MONEY_BAG)
    return (
        f"refunds {{ id refundLineItems(first: {first}) {{ {PAGE_INFO} nodes {{ {fields} }} }} }}"
    )


REFUNDS_WITH_LINES = refunds_with_lines(REFUND_LINES_FIRST)

SHOP_INFO = """
query ShopInfo {
  shop { myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}
"""

CUSTOMERS_COUNT = (
    "query CustomersCount($query: String) { customersCount(query: $query) { count precision } }"
)
ORDERS_COUNT = (
    "query OrdersCount($query: String) { ordersCount(query: $query) { count precision } }"
)


def latest_updated_query(entity: str) -> str:
    """The most recently updated node's ``updatedAt`` (upper bound for window splitting).

    Args:
        entity: ``customers`` or ``orders``.

    Returns:
        The query document.
    """
    return (
        f"query Latest{entity.title()}($query: String) {{ {entity}(first: 1, "
        "sortKey: UPDATED_AT, reverse: true, query: $query) { nodes { updatedAt } } }"
    )


def customers_page_query(metafields: bool) -> str:
    """One page of customers sorted by ``updatedAt``.

    Args:
        metafields: Include the first 50 metafields of each customer.

    Returns:
        The query document (variables ``first``, ``after``, ``query``).
    """
    return (
        "query CustomersPage($first: Int!, $after: String, $query: String) {\n"
        "  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {\n"
        f"    {PAGE_INFO}\n    nodes {{ {customer_selection(metafields)} }}\n  }}\n}}"
    )


def customer_selection(metafields: bool) -> str:
    """The fields of one customer, shared by the pages and the lookups by id.

    Args:
        metafields: Include the first 50 metafields.

    Returns:
        The selection (without braces).
    """
    extra = (
        f"metafields(first: {METAFIELD_PAGE_SIZE}) {{ nodes {{ {METAFIELD_FIELDS} }} }}"
        if metafields
        else ""
    )
    return f"{CUSTOMER_FIELDS} {extra}"


def order_selection() -> str:
    """The fields of one order, shared by the pages and the lookups by id.

    Returns:
        The selection (without braces): line items' first page and refunds with lines.
    """
    return (
        f"{ORDER_FIELDS}\n      lineItems(first: {LINE_ITEMS_FIRST}) "
        f"{{ {PAGE_INFO} nodes {{ {LINE_ITEM_FIELDS} }} }}"
        f"\n      {REFUNDS_WITH_LINES}\n    "
    )


def by_id_query(root: str, gids: list[str], selection: str) -> str:
    """Several objects by id in one query, aliased ``c1``, ``c2``, ... in order.

    Args:
        root: ``customer`` or ``order``.
        gids: Their global ids.
        selection: The fields of each (:func:`customer_selection`, :func:`order_selection`).

    Returns:
        The query document (no variables).
    """
    lookups = "\n".join(
        f'  c{n}: {root}(id: "{gid}") {{ {selection} }}' for n, gid in enumerate(gids, 1)
    )
    return f"query {root.title()}sById {{\n{lookups}\n}}"


def orders_page_query() -> str:
    """One page of orders sorted by ``updatedAt``, with line items and refunds.

    Returns:
        The query document (variables ``first``, ``after``, ``query``).
    """
    return (
        "query OrdersPage($first: Int!, $after: String, $query: String) {\n"
        "  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {\n"
        f"    {PAGE_INFO}\n    nodes {{ {order_selection()}}}\n  }}\n}}"
    )


ORDER_LINE_ITEMS_PAGE = (
    "query OrderLineItems($id: ID!, $after: String) {\n  node(id: $id) {\n"
    "    ... on Order {\n      lineItems(first: 60, after: $after) {\n"
    f"        {PAGE_INFO}\n        nodes {{ {LINE_ITEM_FIELDS} }}\n      }}\n    }}\n  }}\n}}"
)


# A roster page's node is one object (`id updatedAt`).
ROSTER_POINTS_PER_RECORD = float(OBJECT_POINTS)

ROSTER_PAGE = (
    "query RosterPage($first: Int!, $after: String) {\n"
    "  customers(first: $first, after: $after, sortKey: ID) {\n"
    f"    {PAGE_INFO}\n    nodes {{ id updatedAt }}\n  }}\n}}"
)


def _search(query: str | None) -> str:
    return f'(query: "{query}", sortKey: UPDATED_AT)' if query else "(sortKey: UPDATED_AT)"


def customers_bulk_query(search: str | None, metafields: bool) -> str:
    """The bulk query of customers (metafields as child lines).

    Args:
        search: Shopify search filter, e.g. ``updated_at:>='2024-01-01T00:00:00Z'``.
        metafields: Include metafields.

    Returns:
        The bulk query document.
    """
    extra = f"metafields {{ edges {{ node {{ {METAFIELD_FIELDS} }} }} }}" if metafields else ""
    return (
        f"{{ customers{_search(search)} {{ edges {{ node {{ {CUSTOMER_FIELDS} {extra} }} }} }} }}"
    )


def orders_bulk_query(search: str | None) -> str:
    """The bulk query of orders (line items as child lines, refunds inline).

    Args:
        search: Shopify search filter.

    Returns:
        The bulk query document.
    """
    return (
        f"{{ orders{_search(search)} {{ edges {{ node {{ {ORDER_FIELDS} {REFUND_FIELDS_LIST}\n"
        f"  lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }} }} }} }} }}"
    )


REFUND_FIELDS_LIST = f"refunds {{ {REFUND_FIELDS} }}"

ROSTER_BULK = "{ customers { edges { node { id updatedAt } } } }"

BULK_OPERATION_FIELDS = (
    "id status errorCode objectCount rootObjectCount url partialDataUrl createdAt completedAt"
)
BULK_POLL = (
    "query BulkPoll($id: ID!) {\n  node(id: $id) {\n"
    f"    ... on BulkOperation {{ {BULK_OPERATION_FIELDS} }}\n  }}\n}}"
)
CURRENT_BULK_OPERATION = (
    f"query CurrentBulk {{ currentBulkOperation(type: QUERY) {{ {BULK_OPERATION_FIELDS} }} }}"
)
BULK_CANCEL = (
    "mutation BulkCancel($id: ID!) {\n  bulkOperationCancel(id: $id) {\n"
    "    bulkOperation { id status }\n    userErrors { field message }\n  }\n}"
)
_BULK_RUN = (
    "mutation BulkRun($query: String!{arg_decl}) {{\n"
    "  bulkOperationRunQuery(query: $query{arg_use}) {{\n"
    "    bulkOperation {{ id status }}\n    userErrors {{ field message code }}\n  }}\n}}"
)


def bulk_run_mutation(query: str, group_objects: bool | None) -> tuple[str, dict[str, Any]]:
    """The ``bulkOperationRunQuery`` mutation, with ``groupObjects`` where the API has it.

    Args:
        query: The bulk query document.
        group_objects: ``groupObjects`` value (API 2025-07+), or None to leave it out.

    Returns:
        The mutation document and its variables.
    """
    if group_objects is None:
        return _BULK_RUN.format(arg_decl="", arg_use=""), {"query": query}
    document = _BULK_RUN.format(
        arg_decl=", $groupObjects: Boolean!", arg_use=", groupObjects: $groupObjects"
    )
    return document, {"query": query, "groupObjects": group_objects}
