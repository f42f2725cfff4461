"""Benchmark target-crm: orders/s and events/s into SQLite and PostgreSQL.

Generates a recorded Singer file (customers, orders with refunds and cancellations, STATE
every 10,000 records) and pipes it into the `target-crm` executable, end to end (process
start included). The baseline is the same target with singer-sdk's per-record JSON Schema
validation on (`validate_records: true`, the singer-sdk default), measured in the same run,
and the msgspec parse floor of the same file (decoding every line, nothing else). Each run
prints its peak resident memory.

`--memory` then measures peak memory once more, at the end, at 100,000 and at 1,000,000
orders (the feed generated straight into the target's stdin, never stored): bounded memory
means both peaks are under 300 MB and about equal.

    python bench/bench_crm.py [--orders 200000] [--customers 40000] [--skip-postgres] [--memory]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tap-shopify-history" / "tap_shopify_history" / "schemas"
TARGET = str(Path(sys.executable).parent / "target-crm")
SHOP = "bench-store.myshopify.com"
PG_ADMIN = os.environ.get(
    "TESTKIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def money(cents: int) -> dict:
    amount = f"{cents / 100:.2f}"
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def customer(i: int, base: int) -> dict:
    return {
        "shop_domain": SHOP,
        "id": i,
        "admin_graphql_api_id": f"gid://shopify/Customer/{i}",
        "email": f"c{i}@example.com" if i % 50 else None,
        "phone": f"+3361234{i:05d}",
        "first_name": "Ann",
        "last_name": f"L{i}",
        "display_name": f"Ann L{i}",
        "default_address": {
            "city": "Lyon",
            "province": "Rhone",
            "province_code": "69",
            "country": "France",
            "country_code": "FR",
            "zip": "69001",
        },
        "number_of_orders": 5,
        "amount_spent": {"amount": "250.00", "currency_code": "USD"},
        "email_marketing_consent": {
            "state": "SUBSCRIBED",
            "opt_in_level": "SINGLE_OPT_IN",
            "consent_updated_at": iso(base),
        },
        "sms_marketing_consent": None,
        "tags": ["vip"] if i % 7 == 0 else [],
        "state": "ENABLED",
        "verified_email": True,
        "note": None,
        "created_at": iso(base),
        "updated_at": iso(base + i),
        "metafields": [],
    }


def order(i: int, n_customers: int, base: int, rng: random.Random) -> dict:
    cents = rng.randint(500, 50000)
    refunded = cents // 4 if i % 10 == 0 else 0
    cancelled = i % 37 == 0
    created = base + i * 30
    return {
        "shop_domain": SHOP,
        "id": i,
        "admin_graphql_api_id": f"gid://shopify/Order/{i}",
        "name": f"#{i}",
        "created_at": iso(created),
        "processed_at": iso(created),
        "updated_at": iso(created + 60),
        "cancelled_at": iso(created + 60) if cancelled else None,
        "closed_at": None,
        "cancel_reason": "CUSTOMER" if cancelled else None,
        "test": False,
        "customer_id": rng.randint(1, n_customers) if i % 20 else None,
        "email": "x@example.com",
        "phone": None,
        "currency_code": "USD",
        "presentment_currency_code": "USD",
        "total_price_set": money(cents),
        "subtotal_price_set": money(cents),
        "total_tax_set": money(0),
        "total_discounts_set": money(0),
        "total_shipping_price_set": money(0),
        "current_total_price_set": money(cents - refunded),
        "current_subtotal_price_set": money(cents - refunded),
        "current_total_tax_set": money(0),
        "current_total_discounts_set": money(0),
        "total_refunded_set": money(refunded),
        "financial_status": "PARTIALLY_REFUNDED" if refunded else "PAID",
        "fulfillment_status": "FULFILLED",
        "line_items": [
            {
                "id": i * 10 + k,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{i * 10 + k}",
                "sku": f"SKU{k}",
                "title": "Widget",
                "name": "Widget",
                "quantity": 1,
                "current_quantity": 1,
                "vendor": "Acme",
                "product_id": k + 1,
                "variant_id": k + 1,
                "original_unit_price_set": money(cents // 2),
                "discounted_unit_price_set": money(cents // 2),
                "original_total_set": money(cents // 2),
                "discounted_total_set": money(cents // 2),
            }
            for k in range(2)
        ],
        "refunds": [
            {
                "id": i,
                "admin_graphql_api_id": f"gid://shopify/Refund/{i}",
                "created_at": iso(created + 60),
                "note": None,
                "total_refunded_set": money(refunded),
                "refund_line_items": [],
            }
        ]
        if refunded
        else [],
        "tags": [],
        "source_name": "web",
    }


def write_feed(path: Path, n_orders: int, n_customers: int) -> None:
    with path.open("w") as out:
        feed_lines(out, n_orders, n_customers)


def feed_lines(out: Any, n_orders: int, n_customers: int) -> None:
    """Write the feed's Singer lines to a text stream (a file or a process's stdin)."""
    rng = random.Random(7)
    base = 1_700_000_000
    for stream in ("customers", "orders"):
        schema = json.loads((SCHEMAS / f"{stream}.json").read_text())
        out.write(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": schema,
                    "key_properties": ["shop_domain", "id"],
                }
            )
            + "\n"
        )
    for i in range(1, n_customers + 1):
        out.write(
            json.dumps({"type": "RECORD", "stream": "customers", "record": customer(i, base)})
            + "\n"
        )
    for i in range(1, n_orders + 1):
        out.write(
            json.dumps(
                {
                    "type": "RECORD",
                    "stream": "orders",
                    "record": order(i, n_customers, base, rng),
                }
            )
            + "\n"
        )
        if i % 10000 == 0:
            out.write(json.dumps({"type": "STATE", "value": {"orders": i}}) + "\n")


@dataclass
class Measured:
    """One target process: wall and CPU seconds, peak resident memory."""

    seconds: float
    cpu: float
    peak_mb: float


def run_target(
    feed: Path | None,
    url: str,
    validate: bool,
    tmp: Path,
    *,
    generate: tuple[int, int] | None = None,
) -> Measured:
    """Run the target on the feed file, or on (orders, customers) generated into its stdin."""
    config = tmp / f"config-{uuid.uuid4().hex}.json"
    config.write_text(json.dumps({"database_url": url, "validate_records": validate}))
    # As installed (byte-code cached), not as this sandbox runs tests (no .pyc writes).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    stdin = feed.open("rb") if feed is not None else subprocess.PIPE
    try:
        child = subprocess.Popen(
            [TARGET, "--config", str(config)],
            stdin=stdin,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    finally:
        if feed is not None:
            stdin.close()
    # stderr is drained by a thread so that a chatty target never blocks on a full pipe.
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True)
    reader.start()
    if generate is not None:
        with io.TextIOWrapper(child.stdin, encoding="utf-8") as text:
            feed_lines(text, *generate)
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    reader.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(b"".join(errors).decode()[-2000:])
    return Measured(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def parse_floor(feed: Path) -> tuple[float, float]:
    """Wall and CPU seconds to decode every line of the feed with msgspec alone: the floor."""
    decoder = msgspec.json.Decoder()
    started, cpu = time.perf_counter(), time.process_time()
    with feed.open("rb") as lines:
        for line in lines:
            decoder.decode(line)
    return time.perf_counter() - started, time.process_time() - cpu


def count_events(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = int(conn.scalar(sa.text("select count(*) from events")) or 0)
    engine.dispose()
    return n


def postgres_db() -> tuple[str, str] | None:
    try:
        engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"bench_crm_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - the bench reports and goes on
        print(f"PostgreSQL unavailable: {error}")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres(name: str) -> None:
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def measure(backend: str, feed: Path, n_orders: int, floor: tuple[float, float], tmp: Path) -> None:
    results = {}
    for validate in (True, False):
        if backend == "sqlite":
            url, name = f"sqlite:///{tmp}/{uuid.uuid4().hex}.db", None
        else:
            made = postgres_db()
            if made is None:
                return
            url, name = made
        got = run_target(feed, url, validate, tmp)
        events = count_events(url)
        if name:
            drop_postgres(name)
        results[validate] = got
        label = "baseline (validate_records=true)" if validate else "target-crm defaults"
        print(
            f"{backend:<10} {label:<34} {got.seconds:7.2f} s {n_orders / got.seconds:8.0f} "
            f"orders/s {events / got.seconds:8.0f} events/s | target CPU {got.cpu:6.1f} s: "
            f"{n_orders / got.cpu:7.0f} orders/CPU-s | peak {got.peak_mb:5.0f} MB"
        )
    base, fast = results[True], results[False]
    print(
        f"{backend:<10} speed-up over the singer-sdk default path: "
        f"{base.seconds / fast.seconds:.2f}x wall, {base.cpu / fast.cpu:.2f}x CPU; "
        f"share of the msgspec parse floor: {floor[0] / fast.seconds:.2f} wall, "
        f"{floor[1] / fast.cpu:.2f} CPU"
    )


def memory(tmp: Path, customers_per_order: float) -> None:
    """Peak RSS at 100,000 and 1,000,000 orders (SQLite, defaults), generated on the fly."""
    peaks = []
    for n_orders in (100_000, 1_000_000):
        n_customers = max(1, int(n_orders * customers_per_order))
        url = f"sqlite:///{tmp}/{uuid.uuid4().hex}.db"
        got = run_target(None, url, False, tmp, generate=(n_orders, n_customers))
        peaks.append(got.peak_mb)
        print(
            f"memory     {n_orders:>9,} orders {n_customers:>7,} customers: peak "
            f"{got.peak_mb:5.0f} MB ({got.seconds:6.1f} s, target CPU {got.cpu:6.1f} s)"
        )
    print(f"memory     1,000,000 / 100,000 orders peak: {peaks[1] / peaks[0]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--memory", action="store_true", help="peaks at 100k and 1M orders")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        feed = tmp / "feed.singer"
        write_feed(feed, args.orders, args.customers)
        size = feed.stat().st_size / 1e6
        load = os.getloadavg()[0]
        print(
            f"feed: {args.customers} customers, {args.orders} orders, {size:.0f} MB, "
            f"cores: {os.cpu_count()}, load average: {load:.1f}"
        )
        floor = parse_floor(feed)
        print(
            f"msgspec parse floor: {args.orders / floor[0]:,.0f} orders/s ({floor[0]:.2f} s, "
            f"{floor[1]:.2f} s CPU: {args.orders / floor[1]:,.0f} orders/CPU-s)"
        )
        backends = [
            name
            for name, skip in (("sqlite", args.skip_sqlite), ("postgresql", args.skip_postgres))
            if not skip
        ]
        for backend in backends:
            measure(backend, feed, args.orders, floor, tmp)
        feed.unlink()
        if args.memory:
            memory(tmp, args.customers / args.orders)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
