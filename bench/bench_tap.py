"""Benchmark tap-shopify-history against a local emulator it starts; prints figures.

Bulk extraction as records/s of the tap process's own CPU (user + sys, from ``wait4``;
the emulator runs in another process and bounds only the wall time), with ratios against
baselines measured in the same run:

- bulk, SDK defaults: the same tap with singer-sdk's default writer and recursive type
  conformance (what our writer, direct RECORD lines and conformance level NONE replace);
- bulk, raw floor: downloading and parsing the same JSONL results (customers, orders,
  roster) with msgspec into reassembled roots, without Singer at all.

Figures are printed for the whole process and less its start-up (``--about``'s CPU, same
run). ``--memory`` instead runs a bulk backfill at each ``--memory-orders`` size (default
100,000 and 1,000,000 orders, a fifth as many customers) and prints the tap's peak RSS:
it should stay flat, since a bulk window is held compactly (shopify/held.py). A
1,000,000-order store takes the emulator about 30 s and 600 MB to build.

For paginated mode it also prints the share of the plan's restore rate the tap used and
how many THROTTLED answers it got (the cost-aware limiter should keep that near zero).

    .venv/bin/python bench/bench_tap.py [--customers 2000 --orders 10000 --bulk-plan plus]
        [--paged-customers 200 --paged-orders 200 --plan advanced]
    .venv/bin/python bench/bench_tap.py --memory [--memory-orders 100000,1000000]

``--bulk-plan standard`` shows the refund lookups after the bulk job under the smallest
restore rate (they, not parsing, bound a big backfill there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from shopify_emulator import EmulatorServer, generate_store
from singer_sdk.singerlib import SingerMessageType
from tap_shopify_history.record_lines import RecordLineWriter
from tap_shopify_history.shopify.client import graphql_endpoint
from tap_shopify_history.shopify.jsonl import reassemble
from tap_shopify_history.shopify.queries import (
    ROSTER_BULK,
    customers_bulk_query,
    orders_bulk_query,
)
from tap_shopify_history.tap import TapShopifyHistory


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    saved = sys.stdout
    with open("/dev/null", "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


class CountingWriter(RecordLineWriter):
    """Our writer, counting RECORD messages (paginated mode, in-process)."""

    records = 0

    def write_message(self, message: Any) -> None:
        if message.type == SingerMessageType.RECORD:
            CountingWriter.records += 1
        super().write_message(message)


class OurTap(TapShopifyHistory):
    message_writer_class = CountingWriter


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


# Each tap run is its own process, so its CPU (user + sys) and peak RSS are its own; the
# emulator runs in another. Byte-compiled modules go to a private cache, so a process does
# not compile every import again (this machine sets PYTHONDONTWRITEBYTECODE).
TAP_EXE = str(Path(sys.executable).parent / "tap-shopify-history")
SDK_DEFAULTS = (
    "import sys\n"
    "from singer_sdk.helpers.conform import TypeConformanceLevel\n"
    "from singer_sdk.io_base import SingerWriter\n"
    "from tap_shopify_history.streams.base import ShopifyStream\n"
    "from tap_shopify_history.tap import TapShopifyHistory\n"
    "ShopifyStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE\n"
    "TapShopifyHistory.message_writer_class = SingerWriter\n"
    "sys.argv[0] = 'tap-shopify-history'\n"
    "TapShopifyHistory.cli()\n"
)


@dataclass(frozen=True)
class TapRun:
    """One tap process: records written, CPU seconds, wall seconds, peak RSS in MB."""

    records: int
    cpu: float
    wall: float
    peak_mb: float

    def per_second(self, startup: float = 0.0) -> float:
        """Records per second of the process's own CPU (less a start-up time)."""
        return self.records / max(1e-9, self.cpu - startup)


def _environment(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def run_tap_process(args: list[str], cache: str) -> TapRun:
    """Run a tap command, count the RECORD lines it writes, measure it with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_environment(cache)
    )
    assert process.stdout is not None
    records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        msg = f"{args[:2]} exited with status {status}"
        raise RuntimeError(msg)
    cpu = usage.ru_utime + usage.ru_stime
    return TapRun(records=records, cpu=cpu, wall=wall, peak_mb=usage.ru_maxrss / 1024)


def bulk_file(base_url: str, token: str, query: str) -> str:
    """Run one bulk query on the emulator and return its result URL."""
    url = graphql_endpoint(base_url, "2026-01")
    headers = {"X-Shopify-Access-Token": token}
    run = (
        "mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) "
        "{ bulkOperation { id } } }"
    )
    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status url } } }"
    body = {"query": run, "variables": {"q": query}}
    op_id = requests.post(url, json=body, headers=headers, timeout=60).json()["data"][
        "bulkOperationRunQuery"
    ]["bulkOperation"]["id"]
    while True:
        node = requests.post(
            url, json={"query": poll, "variables": {"id": op_id}}, headers=headers, timeout=60
        ).json()["data"]["node"]
        if node["status"] == "COMPLETED":
            return str(node["url"])
        time.sleep(0.05)


def raw_bulk_floor(base_url: str, token: str) -> tuple[float, int]:
    """CPU seconds to download and reassemble the tap's three bulk files, no Singer at all.

    The customers, orders and roster results the tap reads, streamed from the emulator and
    parsed line by line with msgspec into reassembled roots: what any reader of these files
    has to do. Returns the CPU seconds of this process and the roots read.
    """
    files = [
        (customers_bulk_query(None, metafields=False), {"Metafield": "metafields"}),
        (orders_bulk_query(None), {"LineItem": "lineItems"}),
        (ROSTER_BULK, {}),
    ]
    urls = [(bulk_file(base_url, token, query), children) for query, children in files]
    started = time.process_time()
    roots = 0
    for url, children in urls:
        with requests.get(url, stream=True, timeout=600) as response:
            lines = (line for line in response.iter_lines(1 << 16) if line)
            roots += sum(1 for _ in reassemble(lines, children))
    return time.process_time() - started, roots


def bench_bulk(args: argparse.Namespace) -> None:
    options = {
        "seed": 1,
        "customers": args.customers,
        "orders": args.orders,
        "plan": args.bulk_plan,
        "bulk": 0.05,
    }
    with (
        emulator_process(**options) as (base_url, token),
        tempfile.TemporaryDirectory() as folder,
    ):
        config = Path(folder, "config.json")
        settings = {"store_url": base_url, "access_token": token, "extraction_mode": "bulk"}
        config.write_text(json.dumps(settings))
        cache = str(Path(folder, "pycache"))
        run_tap_process([TAP_EXE, "--about"], cache)  # fills the byte-code cache
        startup = run_tap_process([TAP_EXE, "--about"], cache).cpu
        ours = run_tap_process([TAP_EXE, "--config", str(config)], cache)
        base = run_tap_process([sys.executable, "-c", SDK_DEFAULTS, "--config", str(config)], cache)
        floor_cpu, roots = raw_bulk_floor(base_url, token)
    assert base.records == ours.records, (base.records, ours.records)
    floor = roots / floor_cpu
    print(
        f"bulk ({args.bulk_plan} plan): {ours.records} records (customers, orders, roster) "
        f"from {args.customers} customers and {args.orders} orders; emulator in its own "
        f"process; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  tap CPU (user+sys): ours {ours.cpu:.2f}s, SDK defaults {base.cpu:.2f}s; "
        f"process start-up {startup:.2f}s of each"
    )
    for label, less in (("whole process", 0.0), ("less start-up", startup)):
        mine, theirs = ours.per_second(less), base.per_second(less)
        print(
            f"  {label:13s}: ours {mine:8.0f} rec/s of CPU; SDK defaults {theirs:8.0f} "
            f"({mine / theirs:.2f}x); floor {floor:8.0f} (ours at {mine / floor:.2f} of it)"
        )
    print(
        f"  floor: download + msgspec parse + reassembly of the same bulk files, no Singer: "
        f"{roots} roots in {floor_cpu:.2f}s of CPU"
    )
    print(
        f"  wall: ours {ours.wall:.1f}s, SDK defaults {base.wall:.1f}s (the emulator bounds "
        f"it); peak RSS ours {ours.peak_mb:.0f} MB, SDK defaults {base.peak_mb:.0f} MB"
    )


def bench_memory(args: argparse.Namespace) -> None:
    """The tap's peak RSS and CPU at each store size (``--memory-orders``)."""
    sizes = [int(size) for size in args.memory_orders.split(",")]
    print(f"memory: bulk backfill of customers, orders and roster ({args.bulk_plan} plan)")
    for orders in sizes:
        customers = max(1, orders // 5)
        options = {
            "seed": 1,
            "customers": customers,
            "orders": orders,
            "plan": args.bulk_plan,
            "bulk": 0.05,
        }
        with (
            emulator_process(**options) as (base_url, token),
            tempfile.TemporaryDirectory() as folder,
        ):
            config = Path(folder, "config.json")
            settings = {"store_url": base_url, "access_token": token, "extraction_mode": "bulk"}
            config.write_text(json.dumps(settings))
            cache = str(Path(folder, "pycache"))
            run_tap_process([TAP_EXE, "--about"], cache)
            about = run_tap_process([TAP_EXE, "--about"], cache)
            run = run_tap_process([TAP_EXE, "--config", str(config)], cache)
        print(
            f"  {orders:>9,} orders, {customers:>7,} customers: {run.records:>9,} records, "
            f"peak RSS {run.peak_mb:5.0f} MB (a process that only starts: {about.peak_mb:.0f} "
            f"MB), CPU {run.cpu:6.1f}s = {run.per_second(about.cpu):6.0f} rec/s less start-up, "
            f"wall {run.wall:6.1f}s, load average {os.getloadavg()[0]:.1f}",
            flush=True,
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
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only the memory mode: the tap's peak RSS at each --memory-orders size",
    )
    parser.add_argument("--memory-orders", default="100000,1000000")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--bulk-plan", default="plus", choices=["standard", "advanced", "plus"])
    parser.add_argument("--paged-customers", type=int, default=200)
    parser.add_argument("--paged-orders", type=int, default=200)
    parser.add_argument("--plan", default="advanced", choices=["standard", "advanced", "plus"])
    args = parser.parse_args()
    if args.memory:
        bench_memory(args)
        print(json.dumps({"args": vars(args)}))
        return
    bench_bulk(args)
    bench_paginated(args)
    print(json.dumps({"args": vars(args)}))


if __name__ == "__main__":
    main()
