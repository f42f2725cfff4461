"""``python -m shopify_emulator.demo``: serve the demo store, show what it holds, stop.

The counts come from asking the running server over HTTP (GraphQL counts) and from the
store itself (edge cases), so the demo also proves the server answers.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from typing import Any

from shopify_emulator.emulator import EmulatorServer
from shopify_emulator.generator import generate_store
from shopify_emulator.store import Store

DEMO_SEED = 42
DEMO_CUSTOMERS = 3_000
DEMO_ORDERS = 25_000


def _ask(server: EmulatorServer, query: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local http URL we just started
        server.graphql_url(),
        data=json.dumps({"query": query}).encode(),
        headers={"X-Shopify-Access-Token": server.token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())  # type: ignore[no-any-return]


def edge_case_counts(store: Store) -> Counter[str]:
    """How many records of each edge case the store holds."""
    counts: Counter[str] = Counter()
    emails: Counter[str] = Counter()
    for c in store.customers.values():
        counts["customers"] += 1
        counts["customers without email"] += c.email is None
        counts["phone-only customers"] += c.email is None and c.phone is not None
        if c.email:
            emails[c.email] += 1
    counts["customers sharing an email"] = sum(n for n in emails.values() if n > 1)
    updated_seconds: Counter[int] = Counter()
    for oid in store.order_ids():
        order = store.order(oid)
        if order is None:
            continue
        counts["orders"] += 1
        counts["guest orders"] += order.customer_id is None
        counts["test orders"] += order.test
        counts["cancelled orders"] += order.cancelled_at is not None
        counts["refunded orders"] += bool(order.refunds)
        counts["refunds"] += len(order.refunds)
        counts["orders with several refunds"] += len(order.refunds) > 1
        counts["foreign presentment currency"] += order.presentment_currency != "USD"
        counts["refund edited after order updatedAt"] += any(
            r.updated_at > order.updated_at for r in order.refunds
        )
        counts["orders older than 60 days"] += order.created_at < store.now() - 60 * 86_400
        updated_seconds[order.updated_at] += 1
    counts["orders sharing one updatedAt second (largest group)"] = max(
        updated_seconds.values(), default=0
    )
    return counts


def main() -> None:
    """Start, report, stop."""
    started = time.perf_counter()
    store = generate_store(DEMO_SEED, DEMO_CUSTOMERS, DEMO_ORDERS)
    with EmulatorServer(store, bulk_seconds=1.0) as server:
        answer = _ask(
            server,
            "{ shop { name myshopifyDomain } customersCount { count }"
            " ordersCount(limit: 1000000) { count } }",
        )
        data = answer["data"]
        print(f"Shopify emulator for {data['shop']['name']} ({data['shop']['myshopifyDomain']})")
        print(f"  GraphQL endpoint: {server.graphql_url()}")
        print(
            f"  served over HTTP: {data['customersCount']['count']} customers, "
            f"{data['ordersCount']['count']} orders"
        )
        for name, value in edge_case_counts(store).items():
            print(f"  {name}: {value}")
        print(f"  ready in {time.perf_counter() - started:.1f}s; stopping.")


if __name__ == "__main__":
    main()
