"""Refund hydration after a bulk read: batches sized to cost, lookups only where needed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tap_fakes import FakeClock
from tap_shopify_history.shopify.errors import QueryCostExceededError
from tap_shopify_history.shopify.limiter import CostLimiter, ThrottleStatus
from tap_shopify_history.shopify.records import order_record
from tap_shopify_history.shopify.refunds import hydrate_refunds

ALIAS = re.compile(r'o(\d+): node\(id: "([^"]+)"\).*?refundLineItems\(first: (\d+)\)')


class FakeStore:
    """Answers OrderRefunds lookups from a dict of refund lines per order gid."""

    def __init__(
        self, lines: dict[str, int], *, max_orders: int | None = None, refunds: int = 1
    ) -> None:
        clock = FakeClock()
        self.limiter = CostLimiter(clock=clock, sleep=clock.sleep)
        self.limiter.observe(ThrottleStatus(2000, 2000, 100), actual_cost=None)
        self.lines = lines
        self.max_orders = max_orders
        self.refunds = refunds
        self.queries: list[tuple[int, float]] = []
        self.documents: list[str] = []

    def execute(self, document: str, variables: Any = None, estimated_cost: float = 0) -> dict:
        found = ALIAS.findall(document)
        if self.max_orders is not None and len(found) > self.max_orders:
            raise QueryCostExceededError("too costly", 5000)
        self.queries.append((len(found), estimated_cost))
        self.documents.append(document)
        data: dict[str, Any] = {"__extensions": {"cost": {"requestedQueryCost": estimated_cost}}}
        for alias, gid, first in found:
            count = self.lines[gid]
            nodes = [
                {"quantity": 1, "lineItem": {"id": f"gid://shopify/LineItem/{n}"}}
                for n in range(min(count, int(first)))
            ]
            number = gid.rsplit("/", 1)[1]
            refunds = [
                {
                    "id": f"gid://shopify/Refund/{number}{'' if r == 0 else f'0{r}'}",
                    "createdAt": "2024-01-02T00:00:00Z",
                    "note": "fresh",
                    "refundLineItems": {
                        "pageInfo": {"hasNextPage": count > int(first), "endCursor": None},
                        "nodes": nodes,
                    },
                }
                for r in range(self.refunds)
            ]
            data[f"o{alias}"] = {"id": gid, "refunds": refunds}
        return data


def bulk_order(n: int, items: int, *, refunded: bool, lost: int = 1) -> dict[str, Any]:
    """A bulk order row; when refunded, its first ``lost`` lines lost a unit."""
    line_items = [
        {"id": f"gid://shopify/LineItem/{i}", "quantity": 2, "currentQuantity": 2}
        for i in range(items)
    ]
    if refunded:
        for item in line_items[:lost]:
            item["currentQuantity"] = 1
    return {
        "id": f"gid://shopify/Order/{n}",
        "updatedAt": "2024-01-01T00:00:00Z",
        "lineItems": line_items,
        "refunds": [{"id": f"gid://shopify/Refund/{n}", "createdAt": "2024-01-01T00:00:00Z"}],
    }


def test_batches_fill_the_query_cost_cap() -> None:
    orders = [bulk_order(n, 2, refunded=True, lost=2) for n in range(1, 201)]
    store = FakeStore({o["id"]: 2 for o in orders})
    hydrate_refunds(store, orders)  # type: ignore[arg-type]
    # 4 + 5 x 2 points per order: 71 orders fit under the 1000-point cap, not 9.
    assert [n for n, _ in store.queries] == [71, 71, 58]
    assert all(cost <= 1000 for _, cost in store.queries)
    assert all(len(order_record(o, "s")["refunds"][0]["refund_line_items"]) == 2 for o in orders)


def test_orders_without_refunded_units_are_not_looked_up() -> None:
    untouched = bulk_order(1, 3, refunded=False)
    refunded = bulk_order(2, 3, refunded=True)
    plain = {"id": "gid://shopify/Order/3", "lineItems": [], "refunds": []}
    store = FakeStore({refunded["id"]: 1})
    hydrate_refunds(store, [untouched, refunded, plain])  # type: ignore[arg-type]
    # One order of 3 lines, 1 of which lost a unit: it asks for 1 refund line per refund.
    assert store.queries == [(1, pytest.approx(1 + 4 + 5 * 1))]
    assert order_record(untouched, "s")["refunds"][0]["refund_line_items"] == []
    assert len(order_record(refunded, "s")["refunds"][0]["refund_line_items"]) == 1


def test_refunds_with_more_lines_than_the_order_are_fetched_again() -> None:
    order = bulk_order(1, 2, refunded=True)
    store = FakeStore({order["id"]: 7})
    hydrate_refunds(store, [order])  # type: ignore[arg-type]
    assert len(store.queries) == 2
    assert len(order_record(order, "s")["refunds"][0]["refund_line_items"]) == 7


def test_a_batch_shopify_prices_higher_is_split() -> None:
    orders = [bulk_order(n, 1, refunded=True) for n in range(1, 41)]
    store = FakeStore({o["id"]: 1 for o in orders}, max_orders=10)
    hydrate_refunds(store, orders)  # type: ignore[arg-type]
    assert all(n <= 10 for n, _ in store.queries)
    assert sum(n for n, _ in store.queries) == 40
    assert all(o["refunds"][0]["refundLineItems"]["nodes"] for o in orders)


def test_bulk_refund_fields_are_kept_and_only_lines_fetched() -> None:
    order = bulk_order(1, 2, refunded=True)
    store = FakeStore({order["id"]: 2})
    hydrate_refunds(store, [order])  # type: ignore[arg-type]
    assert "totalRefundedSet" not in store.documents[0]
    refund = order["refunds"][0]
    assert refund["createdAt"] == "2024-01-01T00:00:00Z"  # the bulk row's
    assert len(refund["refundLineItems"]["nodes"]) == 2


def test_a_refund_added_since_the_bulk_job_gets_a_full_lookup() -> None:
    order = bulk_order(1, 2, refunded=True, lost=2)
    store = FakeStore({order["id"]: 2}, refunds=2)
    hydrate_refunds(store, [order])  # type: ignore[arg-type]
    assert len(store.documents) == 2
    assert "totalRefundedSet" in store.documents[1]
    assert [r["note"] for r in order["refunds"]] == ["fresh", "fresh"]
    assert len(order_record(order, "s")["refunds"]) == 2


def _bag(shop: str, presentment: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "shopMoney": {"amount": shop, "currencyCode": "USD"},
        "presentmentMoney": {"amount": presentment, "currencyCode": currency},
    }


class MoneyStore(FakeStore):
    """Answers each alias with one refund line, with the money sides its selection asks."""

    def execute(self, document: str, variables: Any = None, estimated_cost: float = 0) -> dict:
        self.documents.append(document)
        self.queries.append((document.count("node(id:"), estimated_cost))
        data: dict[str, Any] = {}
        for line in document.splitlines()[1:-1]:
            alias, gid = re.match(r'(o\d+): node\(id: "([^"]+)"\)', line).groups()  # type: ignore[union-attr]
            bag: dict[str, Any] = {"shopMoney": {"amount": "4.00", "currencyCode": "USD"}}
            if "presentmentMoney" in line:
                bag["presentmentMoney"] = {"amount": "3.70", "currencyCode": "EUR"}
            number = gid.rsplit("/", 1)[1]
            refund_line = {"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/0"}}
            page = {"pageInfo": {"hasNextPage": False, "endCursor": None}}
            data[alias] = {
                "id": gid,
                "refunds": [
                    {
                        "id": f"gid://shopify/Refund/{number}",
                        "refundLineItems": {**page, "nodes": [{**refund_line, "subtotalSet": bag}]},
                    }
                ],
            }
        return data


def test_an_order_in_one_currency_asks_refund_lines_for_shop_money_only() -> None:
    one = bulk_order(1, 2, refunded=True)
    one.update(currencyCode="USD", presentmentCurrencyCode="USD", totalPriceSet=_bag("9", "9"))
    two = bulk_order(2, 2, refunded=True)
    two.update(
        currencyCode="USD", presentmentCurrencyCode="EUR", totalPriceSet=_bag("9", "8.3", "EUR")
    )
    # Same currency on paper, but a bag with different sides: not treated as one currency.
    odd = bulk_order(3, 2, refunded=True)
    odd.update(currencyCode="USD", presentmentCurrencyCode="USD", totalPriceSet=_bag("9", "8"))
    store = MoneyStore({})
    hydrate_refunds(store, [one, two, odd])  # type: ignore[arg-type]
    lines = store.documents[0].splitlines()[1:-1]
    assert ["presentmentMoney" in line for line in lines] == [False, True, True]
    # 1 + (4 + 4) for the shop-money-only order, 1 + (4 + 5) each for the two others.
    assert store.queries == [(3, pytest.approx(1 + 8 + 9 + 9))]
    shop = {"amount": "4.00", "currency_code": "USD"}
    first = order_record(one, "s")["refunds"][0]["refund_line_items"][0]["subtotal_set"]
    assert first == {"shop_money": shop, "presentment_money": shop}
    second = order_record(two, "s")["refunds"][0]["refund_line_items"][0]["subtotal_set"]
    assert second["presentment_money"] == {"amount": "3.70", "currency_code": "EUR"}
