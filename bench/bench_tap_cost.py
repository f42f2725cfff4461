"""What tap-shopify-history spends of the store's API budget, against an older revision.

Two figures, each measured for the tap as of ``--baseline-rev`` (extracted with git
archive) and for the working tree, alternately, in the same run, each against a fresh
emulator in its own process:

- pages: points per order of a paginated read of orders (the ``OrdersPage`` queries and
  their follow-ups: line item pages and refund line lookups), as Shopify's calculated
  cost counts them (``actualQueryCost``; the emulator's cost.py), and the requested cost
  per order that sizes a page (at most 1,000 points a query);
- full: a full-history extract (a first run in the default ``auto`` mode: bulk jobs,
  then the refund line lookups) on the standard plan (2,000 points, 100 restored a
  second): wall seconds, points spent, requests, and how many of the points were refund
  lookups.

    .venv/bin/python bench/bench_tap_cost.py [--orders 5000] [--customers 1000]
        [--paged-orders 400] [--baseline-rev 0214b56] [--plan standard]

Prints figures and ratios; asserts nothing. The machine is shared: read the ratios, and
the load average printed with them.
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
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The worker runs with the baseline's folder first on PYTHONPATH, so these are its modules.
from shopify_emulator import EmulatorServer, generate_store
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.tap import TapShopifyHistory

ROOT = Path(__file__).resolve().parents[1]
#: The revision before the budget work (issue 14, H3b).
BASELINE_REV = "0214b56"
PACKAGE = "tap-shopify-history/tap_shopify_history"


def _serve(connection: Any, seed: int, customers: int, orders: int, plan: str) -> None:
    store = generate_store(seed=seed, customers=customers, orders=orders)
    with EmulatorServer(store, plan=plan, bulk_seconds=0.05) as server:
        connection.send((server.base_url, server.token))
        connection.recv()  # block until the parent is done


@contextlib.contextmanager
def emulator_process(
    seed: int, customers: int, orders: int, plan: str
) -> Iterator[tuple[str, str]]:
    """An emulator in its own process, so it does not share the tap's GIL."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve, args=(child, seed, customers, orders, plan), daemon=True
    )
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=30)


def _operation(document: str) -> str:
    head = document.lstrip().split("{", 1)[0].split("(", 1)[0].split()
    return head[1] if len(head) > 1 else (head[0] if head else "anonymous")


def worker(args: argparse.Namespace) -> None:
    """Run the tap importable from ``sys.path`` once, print one JSON line of figures."""
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    original = GraphQLClient.execute

    def counting(self: Any, query: str, *a: Any, **k: Any) -> dict[str, Any]:
        data = original(self, query, *a, **k)
        cost = (data.get("__extensions") or {}).get("cost") or {}
        tally = spent[_operation(query)]
        tally[0] += 1
        tally[1] += float(cost.get("actualQueryCost") or 0)
        tally[2] += float(cost.get("requestedQueryCost") or 0)
        return data

    GraphQLClient.execute = counting  # type: ignore[method-assign]
    pages = args.worker == "pages"
    orders = args.paged_orders if pages else args.orders
    customers = max(10, orders // 5) if pages else args.customers
    plan = "plus" if pages else args.plan
    with emulator_process(args.seed, customers, orders, plan) as (url, token):
        config = {"store_url": url, "access_token": token}
        if pages:
            config["extraction_mode"] = "paginated"
        tap = TapShopifyHistory(config=config, parse_env_config=False)
        started = time.perf_counter()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            tap.sync_all()
        seconds = time.perf_counter() - started
    limiter = tap.session.client.limiter
    print(
        json.dumps(
            {
                "seconds": seconds,
                "points": limiter.points_spent,
                "requests": limiter.requests,
                "throttled": limiter.throttled_count,
                "by_operation": dict(spent),
                "code": sys.modules["tap_shopify_history"].__file__,
            }
        )
    )


def old_code(rev: str, workdir: Path) -> Path:
    """The tap package as of ``rev``, importable from the returned folder."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, PACKAGE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    return workdir / "tap-shopify-history"


def measure(kind: str, code: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    """One worker run of ``kind`` with the tap from ``code`` (None: the working tree)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    command = [sys.executable, __file__, "--worker", kind]
    for name in ("orders", "customers", "paged_orders", "plan", "seed"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        msg = f"{kind} worker failed ({'baseline' if code else 'current'})"
        raise SystemExit(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


ORDER_OPERATIONS = ("OrdersPage", "OrderLineItems", "OrderRefunds")


def report_pages(label: str, figures: dict[str, Any], orders: int) -> tuple[float, float]:
    ops = figures["by_operation"]
    actual = sum(ops.get(name, [0, 0, 0])[1] for name in ORDER_OPERATIONS)
    page = ops.get("OrdersPage", [0, 0.0, 0.0])
    print(
        f"  {label}: {actual / orders:5.1f} points/order actual, "
        f"{page[2] / orders:6.1f} requested/order in pages, {page[0]} order pages "
        f"({orders / max(page[0], 1):.1f} orders a page), follow-ups "
        + ", ".join(
            f"{name} {ops[name][0]} ({ops[name][1]:.0f} pts)"
            for name in ORDER_OPERATIONS[1:]
            if name in ops
        )
    )
    return actual / orders, page[0]


def report_code(label: str, figures: dict[str, Any]) -> None:
    print(f"  {label}: the tap imported from {Path(figures['code']).parent}")


def report_full(label: str, figures: dict[str, Any]) -> None:
    refunds = figures["by_operation"].get("OrderRefunds", [0, 0.0, 0.0])
    print(
        f"  {label}: {figures['seconds']:6.1f} s, {figures['points']:7.0f} points "
        f"({refunds[1]:.0f} in {refunds[0]} refund lookups), {figures['requests']} requests, "
        f"{figures['throttled']} THROTTLED"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--paged-orders", type=int, default=400)
    parser.add_argument("--plan", default="standard", choices=["standard", "advanced", "plus"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--only", choices=["pages", "full"], default=None)
    parser.add_argument("--worker", choices=["pages", "full"], default=None)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        code = old_code(args.baseline_rev, Path(tmp))
        base_label, ours_label = f"git {args.baseline_rev}", "working tree"
        if args.only in (None, "pages"):
            print(f"pages: a paginated read of {args.paged_orders} orders (plus plan)")
            old = measure("pages", code, args)
            new = measure("pages", None, args)
            report_code(base_label, old)
            report_code(ours_label, new)
            old_points, old_pages = report_pages(base_label, old, args.paged_orders)
            new_points, new_pages = report_pages(ours_label, new, args.paged_orders)
            print(
                f"  ratio: {old_points / new_points:.2f}x fewer points an order, "
                f"{old_pages / max(new_pages, 1):.2f}x fewer order pages"
            )
        if args.only in (None, "full"):
            print(
                f"full: a full-history extract of {args.orders} orders and "
                f"{args.customers} customers ({args.plan} plan, auto mode)"
            )
            old = measure("full", code, args)
            new = measure("full", None, args)
            report_full(base_label, old)
            report_full(ours_label, new)
            print(
                f"  ratio: {old['seconds'] / new['seconds']:.2f}x faster, "
                f"{old['points'] / new['points']:.2f}x fewer points"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
