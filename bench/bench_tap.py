"""Benchmark tap-shopify-history against a local emulator it starts; prints figures.

Bulk and paginated extraction to /dev/null, each as records/s, with ratios against
baselines measured in the same run:

- bulk, SDK defaults: the same tap with singer-sdk's default writer and recursive type
  conformance (what our msgspec writer and conformance level NONE replace);
- bulk, raw floor: downloading and parsing the same JSONL result without Singer at all.

For paginated mode it also prints the share of the plan's restore rate the tap used and
how many THROTTLED answers it got (the cost-aware limiter should keep that near zero).

    .venv/bin/python bench/bench_tap.py [--customers 2000 --orders 10000 --bulk-plan plus]
        [--paged-customers 200 --paged-orders 200 --plan advanced]

``--bulk-plan standard`` shows the refund lookups after the bulk job under the smallest
restore rate (they, not parsing, bound a big backfill there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from typing import Any

import requests
from shopify_emulator import EmulatorServer, generate_store
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import SingerMessageType
from tap_shopify_history.shopify.client import graphql_endpoint
from tap_shopify_history.shopify.jsonl import reassemble
from tap_shopify_history.shopify.queries import orders_bulk_query
from tap_shopify_history.streams.base import ShopifyStream
from tap_shopify_history.tap import TapShopifyHistory
from tap_shopify_history.writer import BufferedMsgSpecWriter


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    saved = sys.stdout
    with open("/dev/null", "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


class CountingWriter(BufferedMsgSpecWriter):
    """Our writer, counting RECORD messages."""

    records = 0

    def write_message(self, message: Any) -> None:
        if message.type == SingerMessageType.RECORD:
            CountingWriter.records += 1
        super().write_message(message)


class DefaultsWriter(SingerWriter):
    """singer-sdk's default writer, counting RECORD messages (baseline)."""

    records = 0

    def write_message(self, message: Any) -> None:
        if message.type == SingerMessageType.RECORD:
            DefaultsWriter.records += 1
        super().write_message(message)


class OurTap(TapShopifyHistory):
    message_writer_class = CountingWriter


class DefaultsTap(TapShopifyHistory):
    """The same tap with singer-sdk's default writer (baseline)."""

    message_writer_class = DefaultsWriter


def timed_sync(
    tap_class: type[TapShopifyHistory], config: dict[str, Any]
) -> tuple[float, float, int, Any]:
    """Wall seconds, seconds spent waiting for bulk jobs, records, the tap."""
    writer = tap_class.message_writer_class
    writer.records = 0  # type: ignore[attr-defined]
    tap = tap_class(config=config, parse_env_config=False)
    waited = [0.0]
    runner = tap.session.bulk

    def sleep(seconds: float) -> None:
        waited[0] += seconds
        time.sleep(seconds)

    runner._sleep = sleep
    started = time.perf_counter()
    with stdout_to_devnull():
        tap.sync_all()
    return time.perf_counter() - started, waited[0], writer.records, tap  # type: ignore[attr-defined]


def _serve(connection: Any, seed: int, customers: int, orders: int, plan: str, bulk: float) -> None:
    store = generate_store(seed=seed, customers=customers, orders=orders)
    with EmulatorServer(store, plan=plan, bulk_seconds=bulk) as server:
        connection.send((server.base_url, server.token))
        connection.recv()  # block until the parent is done


@contextlib.contextmanager
def emulator_process(**options: Any) -> Iterator[tuple[str, str]]:
    """An emulator in its own process, so it does not share the tap's GIL."""
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(child, *options.values()), daemon=True
    )
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=30)


def raw_bulk_floor(base_url: str, token: str) -> tuple[float, int]:
    """Seconds to download and reassemble the orders bulk JSONL, no Singer involved."""
    url = graphql_endpoint(base_url, "2026-01")
    headers = {"X-Shopify-Access-Token": token}
    run = (
        "mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) "
        "{ bulkOperation { id } } }"
    )
    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status url } } }"
    body = {"query": run, "variables": {"q": orders_bulk_query("test:false")}}
    op_id = requests.post(url, json=body, headers=headers, timeout=60).json()["data"][
        "bulkOperationRunQuery"
    ]["bulkOperation"]["id"]
    while True:
        node = requests.post(
            url, json={"query": poll, "variables": {"id": op_id}}, headers=headers, timeout=60
        ).json()["data"]["node"]
        if node["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    started = time.perf_counter()
    with requests.get(node["url"], stream=True, timeout=60) as response:
        roots = sum(1 for _ in reassemble(response.iter_lines(), {"LineItem": "lineItems"}))
    return time.perf_counter() - started, roots


def bench_bulk(args: argparse.Namespace) -> None:
    options = {
        "seed": 1,
        "customers": args.customers,
        "orders": args.orders,
        "plan": args.bulk_plan,
        "bulk": 0.05,
    }
    with emulator_process(**options) as (base_url, token):
        config = {"store_url": base_url, "access_token": token, "extraction_mode": "bulk"}
        ours, ours_wait, records, tap = timed_sync(OurTap, config)
        saved = ShopifyStream.TYPE_CONFORMANCE_LEVEL
        ShopifyStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
        try:
            base, base_wait, base_records, _ = timed_sync(DefaultsTap, config)
        finally:
            ShopifyStream.TYPE_CONFORMANCE_LEVEL = saved
        floor, roots = raw_bulk_floor(base_url, token)
    assert base_records == records, (base_records, records)
    ours_cpu, base_cpu = ours - ours_wait, base - base_wait
    limiter = tap.session.client.limiter
    print(
        f"bulk ({args.bulk_plan} plan): {records} records (customers, orders, roster), "
        "emulator in its own process"
    )
    print(
        f"  ours: {limiter.requests} GraphQL requests (refund lookups included), "
        f"{limiter.points_spent:.0f} points, {limiter.waited_seconds:.1f}s waited for the "
        f"bucket (summed over threads), {limiter.throttled_count} THROTTLED"
    )
    print(
        f"  end to end: ours {records / ours:8.0f} rec/s ({ours:.2f}s, {ours_wait:.2f}s of it "
        f"waiting for bulk jobs); SDK defaults {records / base:8.0f} rec/s ({base:.2f}s)"
    )
    print(
        f"  tap side (excluding the wait for Shopify): ours {records / ours_cpu:8.0f} rec/s; "
        f"SDK defaults {records / base_cpu:8.0f} rec/s; ratio {base_cpu / ours_cpu:.2f}x"
    )
    print(
        "  floor: raw JSONL download + reassembly of orders, no Singer: "
        f"{roots / floor:8.0f} orders/s"
    )


def bench_paginated(args: argparse.Namespace) -> None:
    options = {
        "seed": 2,
        "customers": args.paged_customers,
        "orders": args.paged_orders,
        "plan": args.plan,
        "bulk": 0.05,
    }
    with emulator_process(**options) as (base_url, token):
        config = {"store_url": base_url, "access_token": token, "extraction_mode": "paginated"}
        seconds, _, records, tap = timed_sync(OurTap, config)
    limiter = tap.session.client.limiter
    status = limiter.status
    share = limiter.restore_share(seconds)
    # The bucket starts full: points beyond its size had to come from the restore rate.
    steady = max(0.0, limiter.points_spent - status.maximum_available) / (
        seconds * status.restore_rate
    )
    print(
        f"paginated ({args.plan} plan, restore {status.restore_rate:.0f}/s, bucket "
        f"{status.maximum_available:.0f}): {records} records"
    )
    print(f"  tap: {records / seconds:.1f} rec/s ({seconds:.1f}s, {limiter.requests} requests)")
    print(
        f"  points spent {limiter.points_spent:.0f}: {share:.0%} of the restore rate over the run; "
        f"{steady:.0%} beyond the initial bucket"
    )
    print(
        f"  THROTTLED answers: {limiter.throttled_count}; "
        f"limiter waited {limiter.waited_seconds:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--bulk-plan", default="plus", choices=["standard", "advanced", "plus"])
    parser.add_argument("--paged-customers", type=int, default=200)
    parser.add_argument("--paged-orders", type=int, default=200)
    parser.add_argument("--plan", default="advanced", choices=["standard", "advanced", "plus"])
    args = parser.parse_args()
    bench_bulk(args)
    bench_paginated(args)
    print(json.dumps({"args": vars(args)}))


if __name__ == "__main__":
    main()
