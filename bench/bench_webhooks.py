"""Benchmark the webhook receiver: deliveries/s and answer-time percentiles under a burst.

Starts `shopify-webhooks serve` as its own process (SQLite in a temporary file, then a fresh
PostgreSQL database), fires a burst of signed `orders/updated` deliveries (a realistic
~3 KB order body each, distinct webhook ids) from concurrent keep-alive clients, and times
every answer. The baseline, measured in the same run against the same process, is the same
burst with a wrong signature: HTTP, body read and HMAC check without the durable write, so
the ratio is what committing each delivery costs. Afterwards the queue is counted: every
answered 200 must be a stored row.

    python bench/bench_webhooks.py [--deliveries 1000] [--clients 50] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa
from shopify_webhooks.domain.signature import shopify_headers
from shopify_webhooks.queue import create_queue_engine, queue_table
from testkit.databases import create_postgres_database, drop_postgres_database

SHOP = "bench-store.myshopify.com"
PG_ADMIN = os.environ.get(
    "TESTKIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def order_body(i: int) -> bytes:
    line_items = [
        {
            "id": i * 100 + n,
            "title": f"Item {n}",
            "quantity": 1,
            "price": "19.90",
            "sku": f"SKU-{n}",
        }
        for n in range(12)
    ]
    order = {
        "id": 5_000_000 + i,
        "admin_graphql_api_id": f"gid://shopify/Order/{5_000_000 + i}",
        "name": f"#{1000 + i}",
        "email": f"buyer{i}@example.com",
        "updated_at": "2026-03-01T10:00:00-05:00",
        "financial_status": "paid",
        "total_price": "238.80",
        "currency": "USD",
        "customer": {"id": 7_000_000 + i % 500, "email": f"buyer{i}@example.com"},
        "line_items": line_items,
    }
    return json.dumps(order).encode()


def start_receiver(database_url: str, secret: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    ready = workdir / f"ready-{uuid.uuid4().hex}.json"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "shopify_webhooks", "serve", "--port", "0", "--no-access-log"),
            *("--database-url", database_url, "--ready-file", str(ready)),
        ],
        env={**os.environ, "SHOPIFY_WEBHOOKS_CLIENT_SECRET": secret},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not ready.exists():
        if process.poll() is not None:
            raise SystemExit("the receiver did not start")
        time.sleep(0.02)
    return process, json.loads(ready.read_text())["webhook_url"]


def burst(url: str, bodies: list[tuple[bytes, dict[str, str]]], clients: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    chunks = [bodies[c::clients] for c in range(clients)]
    go = threading.Event()

    def client(chunk: list[tuple[bytes, dict[str, str]]]) -> None:
        session = requests.Session()
        go.wait()
        for body, headers in chunk:
            started = time.perf_counter()
            answer = session.post(url, data=body, headers=headers, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    started = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "per_second": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
    }


def signed(n: int, secret: str, prefix: str) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(n):
        body = order_body(i)
        headers = shopify_headers(
            body, secret, topic="orders/updated", shop_domain=SHOP, webhook_id=f"{prefix}-{i}"
        )
        out.append((body, headers))
    return out


def stored_rows(database_url: str) -> int:
    engine = create_queue_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(queue_table)).scalar()
    engine.dispose()
    return int(count or 0)


def run(label: str, database_url: str, args: argparse.Namespace, workdir: Path) -> None:
    secret = uuid.uuid4().hex
    process, url = start_receiver(database_url, secret, workdir)
    try:
        burst(url, signed(50, secret, "warm"), args.clients)  # connections, caches, table
        baseline = burst(url, signed(args.deliveries, "wrong-" + secret, "x"), args.clients)
        measured = burst(url, signed(args.deliveries, secret, "d"), args.clients)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    rows = stored_rows(database_url) - 50
    print(
        f"{label:<10} {measured['per_second']:>8.0f}/s  p50 {measured['p50_ms']:6.1f} ms  "
        f"p99 {measured['p99_ms']:6.1f} ms  max {measured['max_ms']:6.1f} ms  "
        f"statuses {measured['statuses']}  stored {rows}/{args.deliveries}"
    )
    print(
        f"{'':<10} baseline (401, no write): {baseline['per_second']:.0f}/s, "
        f"p99 {baseline['p99_ms']:.1f} ms, statuses {baseline['statuses']}; "
        f"throughput x{measured['per_second'] / baseline['per_second']:.2f}, "
        f"p99 x{measured['p99_ms'] / baseline['p99_ms']:.2f} of the baseline"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"burst of {args.deliveries} signed deliveries from {args.clients} clients")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run("sqlite", f"sqlite:///{workdir / 'queue.db'}", args, workdir)
        if not args.skip_postgres:
            name = create_postgres_database(PG_ADMIN)
            try:
                run("postgresql", PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", args, workdir)
            finally:
                drop_postgres_database(PG_ADMIN, name)


if __name__ == "__main__":
    main()
