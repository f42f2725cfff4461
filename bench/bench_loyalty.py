"""Benchmark target-loyalty: throughput, memory, and what an incremental run costs.

Generates a recorded Singer file shaped like tap-shopify-history's output (customers;
orders with line-item refunds, cancellations, guest and tagged orders; STATE every
10,000 records; the customer roster with ACTIVATE_VERSION) and pipes it into the
`target-loyalty` executable (process start, parsing with the strict parser, ledger, tiers,
cashback and the close all included), reporting wall time and the process's peak RSS.

throughput: orders/s on SQLite and PostgreSQL, as a ratio to singer-sdk's default path (the
same target with per-record JSON Schema validation, `validate_records: true`) and to the
msgspec parse floor (decoding every line of the same file and nothing else).

incremental: builds stores of each `--stores` size, then times a run bringing 100 changed
orders (a later version with a refund each; the clock one hour later) against the close
before it followed the change (`--baseline-rev`, extracted with git archive), each on its
own copy of the store.

    python bench/bench_loyalty.py [throughput] [--orders 200000] [--customers 40000]
        [--skip-postgres] [--before-rev REV] [--skip-validate-baseline]
    python bench/bench_loyalty.py incremental [--stores 10000,1000000]
    python bench/bench_loyalty.py memory [--sizes 100000,1000000]

memory: peak RSS of the default path at each size, the recording streamed into the target
(no file), and the ratio of the largest size's peak to the smallest's (flat: about 1).

Every target process runs with compiled bytecode cached (see ``child_env``) after one
small warm-up run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec
import sqlalchemy as sa
from testkit.singer_messages import customer_record

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tap-shopify-history" / "tap_shopify_history" / "schemas"
TARGET = str(Path(sys.executable).parent / "target-loyalty")
SHOP = "bench-store.myshopify.com"
PG_ADMIN = os.environ.get(
    "TESTKIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AS_OF = "2024-12-31T00:00:00Z"
#: The last commit whose close read the shop's whole history: the incremental baseline.
BASELINE_REV = "8372795"
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
    created = iso(rng.randrange(300))
    return customer_record(
        cid,
        shop_domain=SHOP,
        created_at=created,
        updated_at=iso(rng.randrange(300)),
        email=f"c{cid}@example.com",
        first_name=f"F{cid}",
        last_name=f"L{cid}",
        display_name=f"F{cid} L{cid}",
    )


def order(oid, customers, rng=None, *, changed=False):
    """Order ``oid``, the same every time (``changed``: a later version with a refund)."""
    rng = random.Random(oid)
    cid = None if rng.random() < 0.05 else rng.randrange(1, customers + 1)
    lines = [rng.randrange(500, 9000) for _ in range(rng.randrange(1, 4))]
    subtotal, shipping, tax = sum(lines), 500, sum(lines) // 10
    refunds = []
    if rng.random() < 0.1 or changed:
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
        "updated_at": iso(oid % 300 + (10 if changed else 0), oid % 86400),
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


def write_recording(path, orders, customers, *, changed=(), roster=True):
    """The tap's output for a store (or, with ``changed``, for a run bringing those orders)."""
    with path.open("w") as out:
        emit_recording(out, orders, customers, changed=changed, roster=roster)


def emit_recording(out, orders, customers, *, changed=(), roster=True):
    """Write the recording's lines to the text stream ``out``."""
    rng = random.Random(42)

    def emit(message):
        out.write(json.dumps(message) + "\n")

    def schema_message(stream):
        return {
            "type": "SCHEMA",
            "stream": stream,
            "schema": schema(stream),
            "key_properties": ["shop_domain", "id"],
        }

    if changed:
        emit(schema_message("orders"))
        for oid in changed:
            record = order(oid, customers, changed=True)
            emit({"type": "RECORD", "stream": "orders", "record": record})
        emit({"type": "STATE", "value": {"bookmarks": {"orders": {"n": len(changed)}}}})
        return
    for stream in ("customers", "orders"):
        emit(schema_message(stream))
        count = customers if stream == "customers" else orders
        for n in range(1, count + 1):
            record = customer(n, rng) if stream == "customers" else order(n, customers)
            emit({"type": "RECORD", "stream": stream, "record": record})
            if n % 10_000 == 0:
                emit({"type": "STATE", "value": {"bookmarks": {stream: {"n": n}}}})
        emit({"type": "STATE", "value": {"bookmarks": {stream: {"n": count}}}})
    if not roster:
        return
    emit(schema_message("customer_roster"))
    emit({"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": 1})
    for n in range(1, customers + 1):
        record = {
            "shop_domain": SHOP,
            "id": n,
            "admin_graphql_api_id": f"gid://shopify/Customer/{n}",
        }
        emit({"type": "RECORD", "stream": "customer_roster", "version": 1, "record": record})
    emit({"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": 1})
    emit({"type": "STATE", "value": {"bookmarks": {"customer_roster": {}}}})


@dataclass
class Measured:
    """One target process: wall and CPU seconds, peak resident memory."""

    seconds: float
    cpu: float
    peak_mb: float


def run(recording, url, *, validate=False, workdir, as_of=AS_OF, code=None):
    """Pipe a recording into a target process (``code``: an older target_loyalty folder).

    ``recording`` is a file, or a function writing the lines to the target's stdin (so a
    million orders need not sit on disk).
    """
    config = workdir / f"config-{uuid.uuid4().hex[:6]}.json"
    settings = {
        "database_url": url,
        "validate_records": validate,
        "tiers": TIERS,
        "signup_bonus_points": 50,
        "signup_bonus_existing_customers": True,
        "as_of": as_of,
    }
    config.write_text(json.dumps(settings))
    command, env = [TARGET, "--config", str(config)], child_env(workdir)
    if code is not None:
        command = [sys.executable, "-c", "from target_loyalty.cli import main; main()"]
        command += ["--config", str(config)]
        env["PYTHONPATH"] = str(code)
    log = workdir / f"stderr-{uuid.uuid4().hex[:6]}.log"
    started = time.perf_counter()
    with log.open("wb") as stderr:
        if callable(recording):
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, env=env
            )
            with io.TextIOWrapper(child.stdin, encoding="utf-8") as stdin:
                recording(stdin)
        else:
            with recording.open() as stdin:
                child = subprocess.Popen(
                    command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr, env=env
                )
        _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(log.read_text()[-3000:])
    log.unlink()
    return Measured(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def child_env(workdir):
    """The target's environment: compiled bytecode cached, as an installed plugin has it.

    A sandbox that sets PYTHONDONTWRITEBYTECODE makes every process compile its imports
    again (about a second); the cache goes under the bench's temporary folder, never into
    the virtualenv, and both the baseline and the measured path use it.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def warm_up(workdir):
    """One small run, so every measured process starts with the bytecode cache filled."""
    recording = workdir / "warm-up.jsonl"
    write_recording(recording, 200, 40)
    for validate in (True, False):
        run(
            recording,
            f"sqlite:///{workdir / uuid.uuid4().hex}.db",
            validate=validate,
            workdir=workdir,
        )


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


def throughput(args, workdir):
    recording = workdir / "recording.jsonl"
    write_recording(recording, args.orders, args.customers)
    size = recording.stat().st_size / 1e6
    print(f"recording: {args.orders:,} orders, {args.customers:,} customers, {size:.0f} MB")
    floor = parse_floor(recording)
    print(f"msgspec parse floor: {args.orders / floor:,.0f} orders/s ({floor:.2f} s)")
    # The singer-sdk baseline alone takes minutes on a loaded machine; a before/after
    # comparison of the target's own code does not need it.
    paths = [] if args.skip_validate_baseline else [("baseline (validate_records on)", True, None)]
    if args.before_rev:
        code = old_code(args.before_rev, workdir)
        if code is not None:
            paths.append((f"before (git {args.before_rev})", False, code))
    paths.append(("target-loyalty default", False, None))
    backends = ["sqlite"] + ([] if args.skip_postgres else ["postgresql"])
    for backend in backends:
        results = {}
        for label, validate, code in paths:
            if backend == "sqlite":
                pg_name, url = None, f"sqlite:///{workdir / uuid.uuid4().hex}.db"
            else:
                pg_name, url = postgres_database()
            try:
                got = run(recording, url, validate=validate, workdir=workdir, code=code)
            finally:
                if pg_name:
                    drop_postgres(pg_name)
            results[label] = got
            print(
                f"{backend:<10} {label:<32} {got.seconds:7.2f} s  "
                f"{args.orders / got.seconds:9,.0f} orders/s  {got.cpu:6.1f} s CPU  "
                f"peak {got.peak_mb:5.0f} MB"
            )
        fast = results["target-loyalty default"]
        for label, other in results.items():
            if other is not fast:
                print(
                    f"{backend:<10} speed-up over {label}: {other.seconds / fast.seconds:.2f}x "
                    f"wall, {other.cpu / fast.cpu:.2f}x CPU"
                )
        print(
            f"{backend:<10} share of the msgspec parse floor: {floor / fast.seconds:.2f} wall, "
            f"{floor / fast.cpu:.2f} CPU; {args.orders / fast.cpu:,.0f} orders per CPU second"
        )


def memory(args, workdir):
    """Peak RSS of the default path at each ``--sizes`` (orders streamed, not on disk)."""
    peaks = {}
    for size in args.sizes:
        customers = max(size // 5, 10)
        url = f"sqlite:///{workdir / uuid.uuid4().hex}.db"

        def feed(stdin, size=size, customers=customers):
            emit_recording(stdin, size, customers)

        got = run(feed, url, workdir=workdir)
        peaks[size] = got.peak_mb
        print(
            f"{size:>9,} orders, {customers:,} customers: peak {got.peak_mb:5.0f} MB, "
            f"{got.cpu:6.1f} s CPU ({size / got.cpu:,.0f} orders per CPU second), "
            f"{got.seconds:6.1f} s wall (the generator feeds it)"
        )
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    smallest, largest = min(peaks), max(peaks)
    print(
        f"peak at {largest:,} / peak at {smallest:,} orders: {peaks[largest] / peaks[smallest]:.2f}"
    )


def parse_floor(recording):
    """Seconds to decode every line of the recording with msgspec alone: the floor."""
    decoder = msgspec.json.Decoder()
    started = time.perf_counter()
    with recording.open("rb") as lines:
        for line in lines:
            decoder.decode(line)
    return time.perf_counter() - started


def old_code(rev, workdir):
    """target_loyalty as of ``rev`` (before closing followed the change), or None."""
    folder = workdir / f"target-loyalty-{rev}"
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "target-loyalty/target_loyalty"],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        return None
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    (workdir / "target-loyalty").rename(folder)
    return folder


def incremental(args, workdir):
    """A run bringing ``--changed`` changed orders to stores of each size, old path beside."""
    code = old_code(args.baseline_rev, workdir)
    for size in args.stores:
        customers = max(size // 5, 10)
        store = workdir / f"store-{size}.db"
        recording = workdir / f"store-{size}.jsonl"
        write_recording(recording, size, customers, roster=False)
        built = run(recording, f"sqlite:///{store}", workdir=workdir)
        recording.unlink()
        print(
            f"store of {size:,} orders, {customers:,} customers built in {built.seconds:.1f} s "
            f"({size / built.seconds:,.0f} orders/s, {built.cpu:.1f} s CPU, "
            f"peak {built.peak_mb:.0f} MB)"
        )
        rng = random.Random(size)
        changes = workdir / f"changes-{size}.jsonl"
        write_recording(changes, size, customers, changed=rng.sample(range(1, size + 1), 100))
        later = "2024-12-31T01:00:00Z"  # an hourly run: the clock moved an hour
        paths = [("incremental close", None)]
        if code is not None:
            paths.insert(0, (f"old path (git {args.baseline_rev})", code))
        for label, folder in paths:
            copy = workdir / f"copy-{uuid.uuid4().hex[:6]}.db"
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{store}{suffix}").exists():
                    shutil.copy(f"{store}{suffix}", f"{copy}{suffix}")
            got = run(changes, f"sqlite:///{copy}", workdir=workdir, as_of=later, code=folder)
            print(
                f"  {len(changes.read_text().splitlines()) - 2} changed orders, {label:<28} "
                f"{got.seconds:6.2f} s  {got.cpu:6.2f} s CPU  peak {got.peak_mb:5.0f} MB"
            )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        store.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="throughput", choices=MODES)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--stores", type=lambda v: [int(n) for n in v.split(",")], default=[10_000, 1_000_000]
    )
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument(
        "--before-rev",
        default=None,
        help="throughput: also run this commit's target_loyalty (the same-run before figure)",
    )
    parser.add_argument(
        "--skip-validate-baseline",
        action="store_true",
        help="throughput: leave out the singer-sdk default path (validate_records: true)",
    )
    parser.add_argument(
        "--sizes", type=lambda v: [int(n) for n in v.split(",")], default=[100_000, 1_000_000]
    )
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(Path(tmp))
        MODES[args.mode](args, Path(tmp))
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


MODES = {"throughput": throughput, "incremental": incremental, "memory": memory}

if __name__ == "__main__":
    main()
