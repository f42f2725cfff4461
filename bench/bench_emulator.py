"""Emulator benchmark: generation time, memory, and requests/s at scale.

Run: ``.venv/bin/python bench/bench_emulator.py [--orders 1000000] [--seconds 5]``

First, executor figures: the tap's own bulk orders query (line items as child lines,
refunds inline) and its orders page, on a 20,000-order store, served by graphql-core's
executor (the reference, ``fastexec.ENABLED = False``, which also parses every request
anew), by the compiled plan completing dicts that ``flatten`` then encodes (the path bulk
output took before, ``bulk_emit.ENABLED = False``) and by the compiled plan writing JSONL
directly (``bulk_emit``): bulk JSONL lines/s and pages/s, with ratios to both. Those three
render every operation (``bulk_reuse.ENABLED = False``); a fourth figure, ``kept``, is the
same bulk query again on the unchanged store, served from the file the direct run kept.

Then scale figures (skip with ``--no-scale``): every throughput figure is also printed as a
ratio against a baseline measured in the same run: a small store (10,000 orders) served by
the same code, so the ratio shows what scale costs independently of the machine. The bulk
figure is the tap's bulk orders query over the whole store, downloaded as a stream, from
the mutation to the last byte: once rendered (``bulk_lines_per_s``), then the same query
again on the unchanged store (``bulk_repeat_lines_per_s``, the kept file).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

import requests
from shopify_emulator import EmulatorServer, bulk_emit, bulk_reuse, fastexec, generate_store
from tap_shopify_history.shopify.queries import orders_bulk_query, orders_page_query

ORDERS_PAGE = """query($after: String) {
  orders(first: 50, after: $after, sortKey: UPDATED_AT,
         query: "updated_at:>='2020-01-01T00:00:00Z'") {
    edges { cursor node { id name updatedAt totalPriceSet { shopMoney { amount } }
      lineItems(first: 5) { nodes { id sku quantity } } customer { id } } }
    pageInfo { hasNextPage endCursor } } }"""
BULK_QUERY = """{ orders(query: "created_at:>='%s'") { edges { node { id name updatedAt
  totalPriceSet { shopMoney { amount } } lineItems { edges { node { id sku quantity } } } } } } }"""
RUN_BULK = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id } userErrors { message } } }"""
POLL_BULK = "{ currentBulkOperation { status objectCount rootObjectCount url } }"
CUSTOMERS_PAGE = """query($after: String) {
  customers(first: 100, after: $after, sortKey: UPDATED_AT) {
    edges { cursor node { id email updatedAt numberOfOrders amountSpent { amount } tags } }
    pageInfo { hasNextPage endCursor } } }"""


def rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def walk_rate(server: EmulatorServer, query: str, key: str, seconds: float) -> float:
    """Pages per second while walking a connection with cursors."""
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = server.token
    url = server.graphql_url()
    after, pages, started = None, 0, time.perf_counter()
    while pages == 0 or time.perf_counter() - started < seconds:
        body = session.post(url, json={"query": query, "variables": {"after": after}}).json()
        conn = body["data"][key]
        pages += 1
        after = conn["pageInfo"]["endCursor"] if conn["pageInfo"]["hasNextPage"] else None
    return pages / (time.perf_counter() - started)


# Lines per CPU second of the last bulk_rate (this process: the server and its client), a
# figure the shared machine's load moves less than wall-clock lines/s.
LAST_BULK_CPU: dict[str, float] = {}


def bulk_rate(server: EmulatorServer, since: str, query: str = BULK_QUERY) -> float:
    """Bulk objects (JSONL lines) per second, from the mutation to the downloaded file."""
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = server.token
    url = server.graphql_url()
    started, cpu = time.perf_counter(), time.process_time()
    session.post(url, json={"query": RUN_BULK, "variables": {"q": query % since}})
    while True:
        op = session.post(url, json={"query": POLL_BULK}).json()["data"]["currentBulkOperation"]
        if op["status"] not in ("CREATED", "RUNNING"):
            break
        time.sleep(0.05)
    with requests.get(op["url"], timeout=3600, stream=True) as download:
        lines = sum(chunk.count(b"\n") for chunk in download.iter_content(1 << 20))
    LAST_BULK_CPU["lines_per_cpu_s"] = lines / max(time.process_time() - cpu, 1e-9)
    return lines / (time.perf_counter() - started)


def page_rate(server: EmulatorServer, seconds: float) -> float:
    """Pages per second of the tap's orders page (4 orders: its cost is about 240 each)."""
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = server.token
    url, after, pages, started = server.graphql_url(), None, 0, time.perf_counter()
    while pages == 0 or time.perf_counter() - started < seconds:
        variables = {"first": 4, "after": after, "query": None}
        body = session.post(url, json={"query": orders_page_query(), "variables": variables})
        conn = body.json()["data"]["orders"]
        pages += 1
        after = conn["pageInfo"]["endCursor"] if conn["pageInfo"]["hasNextPage"] else None
    return pages / (time.perf_counter() - started)


EXECUTORS = {  # label: (fastexec.ENABLED, bulk_emit.ENABLED, bulk_reuse.ENABLED)
    "reference": (False, False, False),
    "compiled": (True, False, False),
    "direct": (True, True, True),  # renders (nothing kept yet) and keeps its file
    "kept": (True, True, True),  # the same query again: the kept file
}


def compare_executors(orders: int, seconds: float) -> None:
    """The tap's bulk and page queries: graphql-core's executor against the compiled plan."""
    store = generate_store(1, orders // 10, orders, now=1_790_000_000)
    tap_bulk = orders_bulk_query("created_at:>='%s'")
    figures: dict[str, dict[str, float]] = {}
    with EmulatorServer(store, rate_limited=False, bulk_seconds=0.1) as server:
        page_rate(server, 0.0)  # builds the sort index outside the timings
        for label, (fast, direct, reuse) in EXECUTORS.items():
            fastexec.ENABLED, bulk_emit.ENABLED, bulk_reuse.ENABLED = fast, direct, reuse
            figures[label] = {
                "bulk_lines_per_s": bulk_rate(server, "2000-01-01T00:00:00Z", tap_bulk),
                "bulk_lines_per_cpu_s": LAST_BULK_CPU["lines_per_cpu_s"],
                "orders_pages_per_s": page_rate(server, seconds),
            }
    fastexec.ENABLED = bulk_emit.ENABLED = bulk_reuse.ENABLED = True
    print(f"\nexecutors on {orders:,} orders (tap's bulk orders query and orders page)")
    print(
        f"{'figure':<22}"
        + "".join(f"{label:>12}" for label in EXECUTORS)
        + "  direct/ref direct/compiled kept/ref kept/direct"
    )
    for name in ("bulk_lines_per_s", "bulk_lines_per_cpu_s", "orders_pages_per_s"):
        ref, compiled, direct, kept = (figures[label][name] for label in EXECUTORS)
        ratios = f"{direct / ref:>12.2f}{direct / compiled:>16.2f}"
        ratios += f"{kept / ref:>9.2f}{kept / direct:>12.2f}"
        print(
            f"{name:<22}" + "".join(f"{v:>12.1f}" for v in (ref, compiled, direct, kept)) + ratios
        )
    print()


def timed(label: str, action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.2f}s")
    return result, elapsed


def measure(orders: int, customers: int, seconds: float) -> dict[str, float]:
    tap_bulk = orders_bulk_query("created_at:>='%s'")
    store, gen_seconds = timed(
        f"generate {customers:,} customers + {orders:,} orders",
        lambda: generate_store(1, customers, orders, now=1_790_000_000),
    )
    with EmulatorServer(store, rate_limited=False, bulk_seconds=0.1) as server:  # type: ignore[arg-type]
        # The first page of each connection builds the sort and customer indexes.
        _, first = timed(
            "  first orders + customers page (builds indexes)",
            lambda: (
                walk_rate(server, ORDERS_PAGE, "orders", 0.0),
                walk_rate(server, CUSTOMERS_PAGE, "customers", 0.0),
            ),
        )
        figures = {
            "generate_s": gen_seconds,
            "first_pages_s": first,
            "orders_pages_per_s": walk_rate(server, ORDERS_PAGE, "orders", seconds),
            "customers_pages_per_s": walk_rate(server, CUSTOMERS_PAGE, "customers", seconds),
            # The tap's full-history bulk orders query: every order and line item, rendered.
            "bulk_lines_per_s": bulk_rate(server, "2000-01-01T00:00:00Z", tap_bulk),
            "bulk_lines_per_cpu_s": LAST_BULK_CPU["lines_per_cpu_s"],
            # The same query again on the unchanged store: the file kept from the first.
            "bulk_repeat_lines_per_s": bulk_rate(server, "2000-01-01T00:00:00Z", tap_bulk),
        }
    figures["orders_per_s"] = figures["orders_pages_per_s"] * 50
    figures["peak_rss_mb"] = rss_mb()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: orders / 5")
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput figure")
    parser.add_argument("--compare-orders", type=int, default=20_000, help="executor figures")
    parser.add_argument("--no-scale", action="store_true", help="executor figures only")
    args = parser.parse_args()
    compare_executors(args.compare_orders, args.seconds)
    if args.no_scale:
        return
    baseline = measure(10_000, 2_000, args.seconds)
    big = measure(args.orders, args.customers or args.orders // 5, args.seconds)
    print()
    print(f"{'figure':<24}{'baseline (10k)':>16}{f'{args.orders:,} orders':>20}{'ratio':>10}")
    for name in ("generate_s", "first_pages_s", "orders_pages_per_s", "orders_per_s",
                 "customers_pages_per_s", "bulk_lines_per_s", "bulk_lines_per_cpu_s",
                 "bulk_repeat_lines_per_s",
                 "peak_rss_mb"):  # fmt: skip
        b, v = baseline[name], big[name]
        print(f"{name:<24}{b:>16.2f}{v:>20.2f}{v / b if b else 0:>10.2f}")
    print(f"\npeak memory {big['peak_rss_mb']:.0f} MB (budget 2048 MB for 1,000,000 orders)")
    print(
        f"bulk at {args.orders:,} orders: {big['bulk_lines_per_s']:,.0f} lines/s rendered, "
        f"{big['bulk_repeat_lines_per_s']:,.0f} lines/s kept (goal 50,000)"
    )


if __name__ == "__main__":
    main()
