"""Refund line items after a bulk read (or a cut page): batched ``node`` lookups sized to cost.

A bulk query cannot nest a connection inside a list, so bulk orders carry refunds without
their line items. The tap fetches them with aliased ``node`` lookups, as many orders per
query as the query's requested cost allows:

- a lookup asks only for each refund's id and lines and attaches the lines to the refunds
  the bulk row holds (an order whose refunds changed in between is looked up in full);
- each order asks for as many refund lines per refund as it has line items that lost a unit
  (a refund names each line item at most once, and only lines it took units from), so the
  requested cost is close to what the answer holds; a refund with more is asked again;
- an order whose every amount is in one currency (shop and presentment money equal in each
  of its MoneyBags) asks for each refund line's shop money only, and the presentment side
  is copied from it: one point less per refund line;
- an order none of whose line items lost a unit (``currentQuantity == quantity``) has no
  refunded units, so its refunds have no line items to fetch and are not looked up;
- the cost model (Shopify's: objects 1, connections 2 + first x node) is corrected from
  each answer's ``requestedQueryCost``, and a query Shopify still finds too costly is split.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import BulkOperationError, QueryCostExceededError
from tap_shopify_history.shopify.limiter import SINGLE_QUERY_MAX_COST
from tap_shopify_history.shopify.queries import (
    MONEY_BAG_POINTS,
    REFUND_LINES_SINGLE_PAGE,
    SHOP_MONEY_BAG_POINTS,
    refund_lines_only,
    refunds_with_lines,
)

LOOKUP_WORKERS = 4
# Requested cost of one order lookup: node 1 + refunds 1 + refundLineItems 2 (+ 3 for
# totalRefundedSet, a MoneyBag and its two MoneyV2, in a full lookup), plus per refund
# line: the line 1 + lineItem 1 + subtotalSet 3.
ORDER_COST = 4.0
FULL_ORDER_COST = 7.0
LINE_COST = 5.0
# A refund line asked for its shop money only (one currency): no presentmentMoney object.
ONE_CURRENCY_LINE_COST = LINE_COST - (MONEY_BAG_POINTS - SHOP_MONEY_BAG_POINTS)
QUERY_COST = 1.0
# Bounds of the learned correction to the cost model.
MIN_SCALE, MAX_SCALE = 0.25, 16.0


def _refund_lines_cut(order: Mapping[str, Any]) -> bool:
    return any(
        isinstance(r.get("refundLineItems"), dict)
        and r["refundLineItems"]["pageInfo"]["hasNextPage"]
        for r in order.get("refunds") or []
    )


def _line_items(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    value = order.get("lineItems")
    if isinstance(value, dict):
        return list(value.get("nodes") or [])
    return list(value or [])


def no_refunded_units(order: Mapping[str, Any]) -> bool:
    """Whether no line item of a bulk order lost a unit to a refund.

    Shopify's ``quantity`` counts every unit ordered (refunded and removed ones included),
    ``currentQuantity`` leaves refunded and removed units out: when the two agree on every
    line, no refund of the order has a line item. (A refund line of zero units would go
    unfetched; it moves no quantity or money, and Shopify refunds units.)

    Args:
        order: A bulk ``Order`` node (line items as a list).

    Returns:
        True when the order's refunds certainly have no line items.
    """
    items = _line_items(order)
    return bool(items) and all(
        isinstance(i.get("quantity"), int) and i.get("currentQuantity") == i["quantity"]
        for i in items
    )


def _lost_units(item: Mapping[str, Any]) -> bool:
    quantity, current = item.get("quantity"), item.get("currentQuantity")
    if not isinstance(quantity, int) or not isinstance(current, int):
        return True  # unknown: it may be refunded
    return current < quantity


def lines_first(order: Mapping[str, Any]) -> int:
    """Refund lines to ask for per refund: the order's line items that lost a unit.

    A refund line takes units from one line item, and each refund names a line item at
    most once, so no refund has more lines than the order has line items below their
    ordered quantity (order edits can remove units too: then the bound is loose, never
    short). A refund that still has more (a line of zero units) shows ``hasNextPage`` and
    is asked again with the largest page.

    Args:
        order: An ``Order`` node.

    Returns:
        A page size between 1 and ``REFUND_LINES_SINGLE_PAGE``.
    """
    lost = sum(1 for item in _line_items(order) if _lost_units(item))
    return max(1, min(REFUND_LINES_SINGLE_PAGE, lost))


def _is_money_bag(value: Any) -> bool:
    return isinstance(value, dict) and "shopMoney" in value and "presentmentMoney" in value


def one_currency(order: Mapping[str, Any]) -> bool:
    """Whether every amount of the order is in one currency (shop = presentment money).

    Shopify converts shop money to the buyer's (presentment) currency; when the two are
    the same currency there is nothing to convert, and every MoneyBag of the order shows
    equal sides. Both are checked on the order's own bags, so a refund line's presentment
    money can be copied from its shop money without asking Shopify for it.

    Args:
        order: An ``Order`` node (bulk row or page) with its money fields.

    Returns:
        True when the currencies agree and every bag the node holds has equal sides.
    """
    currency = order.get("currencyCode")
    if not currency or order.get("presentmentCurrencyCode") != currency:
        return False
    bags = [value for value in order.values() if _is_money_bag(value)]
    return bool(bags) and all(
        bag["shopMoney"] == bag["presentmentMoney"]
        and (bag["shopMoney"] or {}).get("currencyCode") == currency
        for bag in bags
    )


def _copy_presentment(refunds: list[dict[str, Any]], currency: str | None) -> bool:
    # Lines fetched with shop money only get it as their presentment money too; a line in
    # another currency than the order's (never seen) makes the order ask again in full.
    for refund in refunds:
        for line in (refund.get("refundLineItems") or {}).get("nodes") or []:
            bag = line.get("subtotalSet")
            if not isinstance(bag, dict) or "presentmentMoney" in bag:
                continue
            shop = bag.get("shopMoney") or {}
            if shop.get("currencyCode") != currency:
                return False
            bag["presentmentMoney"] = dict(shop)
    return True


def lookup_document(
    ids: list[str], first: list[int], *, full: bool, shop_money_only: list[bool] | None = None
) -> str:
    """The aliased ``node`` lookups of some orders' refunds.

    Args:
        ids: Order gids.
        first: Refund lines per refund, one per order.
        full: Every refund field, or only the id and the refund lines.
        shop_money_only: Per order, whether its refund lines need shop money only (ignored
            by a full lookup, which replaces every refund field).

    Returns:
        The query document (aliases ``o0``, ``o1``, ... in the order of ``ids``).
    """
    shop_only = shop_money_only or [False] * len(ids)

    def select(lines: int, shop: bool) -> str:
        if full:
            return refunds_with_lines(lines)
        return refund_lines_only(lines, shop_money_only=shop)

    fields = "\n".join(
        f'o{n}: node(id: "{gid}") {{ ... on Order {{ id {select(lines, shop)} }} }}'
        for n, (gid, lines, shop) in enumerate(zip(ids, first, shop_only, strict=True))
    )
    return f"query OrderRefunds {{\n{fields}\n}}"


def _attach_lines(order: dict[str, Any], fetched: list[dict[str, Any]]) -> bool:
    # The bulk row already holds every other refund field; a refund added or removed
    # since the bulk job ran makes the lists disagree: that order is looked up in full.
    held = {r["id"]: r for r in order.get("refunds") or []}
    if set(held) != {r["id"] for r in fetched}:
        return False
    for refund in fetched:
        held[refund["id"]]["refundLineItems"] = refund["refundLineItems"]
    return True


def _fetch(client: GraphQLClient, orders: list[dict[str, Any]], first: list[int]) -> None:
    fetcher = RefundFetcher(client)
    fetcher.fetch(orders, first)
    stale = fetcher.stale
    if stale:
        lines = {id(o): n for o, n in zip(orders, first, strict=True)}
        RefundFetcher(client, full=True).fetch(stale, [lines[id(o)] for o in stale])


class RefundFetcher:
    """Batches order lookups to the query cost budget, learning the real cost as it goes."""

    def __init__(self, client: GraphQLClient, *, full: bool = False) -> None:
        """Bind to a store's client.

        Args:
            client: The store's client.
            full: Fetch every refund field and replace ``refunds``; otherwise fetch only
                refund lines and attach them to the refunds the order already holds.
        """
        self._client = client
        self._full = full
        self._order_cost = FULL_ORDER_COST if full else ORDER_COST
        self._scale = 1.0
        self._lock = threading.Lock()
        self.stale: list[dict[str, Any]] = []

    def _budget(self) -> float:
        limiter = getattr(self._client, "limiter", None)
        status = limiter.status if limiter is not None else None
        budget = SINGLE_QUERY_MAX_COST
        if status is not None:
            budget = min(budget, status.maximum_available)
        return budget

    def _shop_only(self, order: Mapping[str, Any]) -> bool:
        return not self._full and one_currency(order)

    def _cost(self, first: int, shop_only: bool = False) -> float:
        line = ONE_CURRENCY_LINE_COST if shop_only else LINE_COST
        return (self._order_cost + line * first) * self._scale

    def batches(self, orders: list[dict[str, Any]], first: list[int]) -> list[list[int]]:
        """Group order indexes so each group's estimated cost fits one query's budget.

        Args:
            orders: The orders to look up.
            first: Refund lines per refund, one per order.

        Returns:
            Lists of indexes into ``orders``.
        """
        budget = self._budget()
        groups: list[list[int]] = []
        current: list[int] = []
        spent = QUERY_COST
        for index in range(len(orders)):
            cost = self._cost(first[index], self._shop_only(orders[index]))
            if current and spent + cost > budget:
                groups.append(current)
                current, spent = [], QUERY_COST
            current.append(index)
            spent += cost
        if current:
            groups.append(current)
        return groups

    def fetch(self, orders: list[dict[str, Any]], first: list[int]) -> None:
        """Replace each order's ``refunds`` with a lookup's (refund lines included).

        Args:
            orders: The orders.
            first: Refund lines per refund, one per order.
        """
        groups = self.batches(orders, first)
        if len(groups) > 1:
            # The first answer's requestedQueryCost calibrates the model: plan the rest
            # with it, so batches grow (or shrink) to what Shopify really charges.
            self._run(orders, first, groups[0])
            rest = [i for group in groups[1:] for i in group]
            sub = [orders[i] for i in rest]
            groups = [[rest[j] for j in g] for g in self.batches(sub, [first[i] for i in rest])]
        if len(groups) <= 1:
            for group in groups:
                self._run(orders, first, group)
            return
        # These lookups are latency-bound; a few in flight at once (the limiter still makes
        # each one wait for its points) keep a bulk read from stalling on them.
        with ThreadPoolExecutor(max_workers=LOOKUP_WORKERS) as pool:
            list(pool.map(lambda group: self._run(orders, first, group), groups))

    def _run(self, orders: list[dict[str, Any]], first: list[int], group: list[int]) -> None:
        shop_only = [self._shop_only(orders[i]) for i in group]
        document = lookup_document(
            [orders[i]["id"] for i in group],
            [first[i] for i in group],
            full=self._full,
            shop_money_only=shop_only,
        )
        estimate = QUERY_COST + sum(
            self._cost(first[i], shop) for i, shop in zip(group, shop_only, strict=True)
        )
        try:
            data = self._client.execute(document, estimated_cost=estimate)
        except QueryCostExceededError:
            # Shopify prices this batch higher than our model: halve it and learn.
            if len(group) == 1:
                raise
            with self._lock:
                self._scale *= 2
            half = len(group) // 2
            self._run(orders, first, group[:half])
            self._run(orders, first, group[half:])
            return
        self._learn(estimate, data.get("__extensions") or {})
        for alias, i in enumerate(group):
            node = data.get(f"o{alias}")
            if node is None:
                continue
            if self._full:
                orders[i]["refunds"] = node["refunds"]
                continue
            currency = orders[i].get("currencyCode")
            copied = not shop_only[alias] or _copy_presentment(node["refunds"], currency)
            if not copied or not _attach_lines(orders[i], node["refunds"]):
                with self._lock:
                    self.stale.append(orders[i])

    def _learn(self, estimate: float, extensions: Mapping[str, Any]) -> None:
        requested = (extensions.get("cost") or {}).get("requestedQueryCost")
        if not requested or estimate <= 0:
            return
        with self._lock:
            ratio = self._scale * float(requested) / estimate
            self._scale = min(MAX_SCALE, max(MIN_SCALE, ratio))


def hydrate_refunds(
    client: GraphQLClient, orders: list[dict[str, Any]], *, only_cut: bool = False
) -> None:
    """Fetch orders' refunds with their line items (aliased ``node`` lookups, batched).

    Bulk results carry refunds without line items; pages carry the first few lines only.
    Orders whose refunds still have more lines than a lookup returned get one more lookup
    each, with the largest page.

    Args:
        client: The store's client.
        orders: Order nodes.
        only_cut: Only the orders whose refund line items were cut by a page size.

    Raises:
        BulkOperationError: If a refund has more line items than one lookup can return.
    """
    todo = []
    for order in orders:
        if not order.get("refunds") or (only_cut and not _refund_lines_cut(order)):
            continue
        if not only_cut and no_refunded_units(order):
            for refund in order["refunds"]:
                refund["refundLineItems"] = []
            continue
        todo.append(order)
    _fetch(client, todo, [lines_first(o) for o in todo])
    # A refund with more lines than the order's lines that lost a unit (a zero-unit line,
    # which Shopify does not make): asked again with the largest page.
    cut = [o for o in todo if _refund_lines_cut(o)]
    _fetch(client, cut, [REFUND_LINES_SINGLE_PAGE] * len(cut))
    if any(_refund_lines_cut(o) for o in cut):
        msg = "an order has a refund with more line items than the tap can read in one query"
        raise BulkOperationError(msg)
