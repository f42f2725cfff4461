"""Benchmark target-loyalty: orders/s into SQLite and PostgreSQL, end to end.

Generates a recorded Singer file shaped like tap-shopify-history's output (customers;
orders with line-item refunds, cancellations, guest and tagged orders; STATE every
10,000 records; the customer roster with ACTIVATE_VERSION) and pipes it into the
`target-loyalty` executable (process start, parsing, ledger, tiers and cashback at the
end of the run all included). The baseline is the same target with singer-sdk's
per-record JSON Schema validation on (`validate_records: true`, the singer-sdk default
path), measured in the same run; the ratio is printed.

    python bench/bench_loyalty.py [--orders 100000] [--customers 20000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tap-shopify-history" / "tap_shopify_history" / "schemas"
TARGET = str(Path(sys.executable).parent / "target-loyalty")
SHOP = "bench-store.myshopify.com"
PG_ADMIN = os.environ.get(
    "TESTKIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TIERS = [
    {"name": "Member", "entry_threshold": "0", "cashback_percent": "1"},
    {
        "name": "Silver",
        "entry_threshold": "300",
        "retain_threshold": "250",
        "cashback_percent": "2",
    },
    {"name": "Gold", "entry_threshold": "1000", "retain_threshold": "800", "cashback_percent": "5"},
]


def schema(stream):
    return json.loads((SCHEMAS / f"{stream}.json").read_text())


def money(cents, currency="USD"):
    amount = f"{cents // 100}.{cents % 100:02d}"
    bag = {"amount": amount, "currency_code": currency}
    return {"shop_money": bag, "presentment_money": dict(bag)}


def iso(day, second=0):
    date = f"2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}"
    return f"{date}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"


def customer(cid, rng):
    return {
        "shop_domain": SHOP,
        "id": cid,
        "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
        "email": f"c{cid}@example.com",
        "phone": None,
        "first_name": f"F{cid}",
        "last_name": f"L{cid}",
        "display_name": f"F{cid} L{cid}",
        "default_address": None,
        "number_of_orders": 0,
        "amount_spent": {"amount": "0.00", "currency_code": "USD"},
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "tags": [],
        "state": "ENABLED",
        "verified_email": True,
        "note": None,
        "created_at": iso(rng.randrange(300)),
        "updated_at": iso(rng.randrange(300)),
        "metafields": [],
    }


def order(oid, customers, rng):
    cid = None if rng.random() < 0.05 else rng.randrange(1, customers + 1)
    lines = [rng.randrange(500, 9000) for _ in range(rng.randrange(1, 4))]
    subtotal, shipping, tax = sum(lines), 500, sum(lines) // 10
    refunds = []
    if rng.random() < 0.1:
        refunds.append(
            {
                "id": oid * 10,
                "admin_graphql_api_id": f"gid://shopify/Refund/{oid * 10}",
                "created_at": iso(oid % 300, 7200),
                "note": None,
                "total_refunded_set": money(lines[0]),
                "refund_line_items": [
                    {"line_item_id": oid * 100, "quantity": 1, "subtotal_set": money(lines[0])}
                ],
            }
        )
    cancelled = iso(oid % 300, 9000) if rng.random() < 0.02 else None
    line_items = [
        {
            "id": oid * 100 + i,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{oid * 100 + i}",
            "sku": f"SKU-{i}",
            "title": "Item",
            "name": "Item",
            "quantity": 1,
            "current_quantity": 1,
            "vendor": "V",
            "product_id": 1,
            "variant_id": 2,
            "original_unit_price_set": money(cents),
            "discounted_unit_price_set": money(cents),
            "original_total_set": money(cents),
            "discounted_total_set": money(cents),
        }
        for i, cents in enumerate(lines)
    ]
    return {
        "shop_domain": SHOP,
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": f"#{oid}",
        "created_at": iso(oid % 300, oid % 86400),
        "processed_at": iso(oid % 300),
        "updated_at": iso(oid % 300, oid % 86400),
        "cancelled_at": cancelled,
        "closed_at": None,
        "cancel_reason": "CUSTOMER" if cancelled else None,
        "test": False,
        "customer_id": cid,
        "email": None,
        "phone": None,
        "currency_code": "USD",
        "presentment_currency_code": "USD",
        "total_price_set": money(subtotal + shipping + tax),
        "subtotal_price_set": money(subtotal),
        "total_tax_set": money(tax),
        "total_discounts_set": money(0),
        "total_shipping_price_set": money(shipping),
        "current_total_price_set": money(subtotal + shipping + tax),
        "current_subtotal_price_set": money(subtotal),
        "current_total_tax_set": money(tax),
        "current_total_discounts_set": money(0),
        "total_refunded_set": money(lines[0] if refunds else 0),
        "financial_status": "PAID",
        "fulfillment_status": "FULFILLED",
        "line_items": line_items,
        "refunds": refunds,
        "tags": ["skip_loyalty"] if rng.random() < 0.01 else [],
        "source_name": "web",
    }


def write_recording(path, orders, customers):
    rng = random.Random(42)
    with path.open("w") as out:

        def emit(message):
            out.write(json.dumps(message) + "\n")

        for stream in ("customers", "orders"):
            emit(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": schema(stream),
                    "key_properties": ["shop_domain", "id"],
                }
            )
            count = customers if stream == "customers" else orders
            for n in range(1, count + 1):
                record = customer(n, rng) if stream == "customers" else order(n, customers, rng)
                emit({"type": "RECORD", "stream": stream, "record": record})
                if n % 10_000 == 0:
                    emit({"type": "STATE", "value": {"bookmarks": {stream: {"n": n}}}})
            emit({"type": "STATE", "value": {"bookmarks": {stream: {"n": count}}}})
        emit(
            {
                "type": "SCHEMA",
                "stream": "customer_roster",
                "schema": schema("customer_roster"),
                "key_properties": ["shop_domain", "id"],
            }
        )
        emit({"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": 1})
        for n in range(1, customers + 1):
            emit(
                {
                    "type": "RECORD",
                    "stream": "customer_roster",
                    "version": 1,
                    "record": {
                        "shop_domain": SHOP,
                        "id": n,
                        "admin_graphql_api_id": f"gid://shopify/Customer/{n}",
                    },
                }
            )
        emit({"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": 1})
        emit({"type": "STATE", "value": {"bookmarks": {"customer_roster": {}}}})


def run(recording, url, *, validate, workdir):
    config = workdir / f"config-{uuid.uuid4().hex[:6]}.json"
    config.write_text(
        json.dumps(
            {
                "database_url": url,
                "validate_records": validate,
                "tiers": TIERS,
                "signup_bonus_points": 50,
                "signup_bonus_existing_customers": True,
                "as_of": "2024-12-31T00:00:00Z",
            }
        )
    )
    started = time.perf_counter()
    with recording.open() as stdin:
        done = subprocess.run(
            [TARGET, "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return elapsed


def postgres_database():
    name = f"bench_loyalty_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(name):
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        recording = workdir / "recording.jsonl"
        write_recording(recording, args.orders, args.customers)
        size = recording.stat().st_size / 1e6
        print(f"recording: {args.orders:,} orders, {args.customers:,} customers, {size:.0f} MB")
        backends = ["sqlite"] + ([] if args.skip_postgres else ["postgresql"])
        for backend in backends:
            results = {}
            for label, validate in (
                ("baseline (validate_records on)", True),
                ("target-loyalty default", False),
            ):
                if backend == "sqlite":
                    pg_name, url = None, f"sqlite:///{workdir / uuid.uuid4().hex}.db"
                else:
                    pg_name, url = postgres_database()
                try:
                    results[label] = run(recording, url, validate=validate, workdir=workdir)
                finally:
                    if pg_name:
                        drop_postgres(pg_name)
                rate = args.orders / results[label]
                print(f"{backend:<10} {label:<32} {results[label]:7.2f} s  {rate:9,.0f} orders/s")
            base, fast = results.values()
            print(f"{backend:<10} speed-up over the singer-sdk default path: {base / fast:.2f}x")


if __name__ == "__main__":
    main()
