"""`target-crm report`: statistics and reconciliation, as a table and as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, order, run_target

TARGET = str(Path(sys.executable).parent / "target-crm")


def report(url, *args):
    return subprocess.run(
        [TARGET, "report", "--database-url", url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_json_table_and_failed_reconciliation(sqlite_url):
    feed = (
        Feed().customers(customer(1), customer(2, email=None)).orders(order(1, 1), order(2, None))
    )
    feed.customers(customer(9, shop="other.myshopify.com"))
    run_target({"database_url": sqlite_url}, feed)
    done = report(sqlite_url, "--format", "json", "--shop", SHOP)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert data["run"]["status"] == "completed"
    stats = {(s["stream"], s["outcome"], s["reason"]): s["count"] for s in data["statistics"]}
    assert stats[("customers", "received", "")] == 2
    assert stats[("customers", "skipped", "missing_identifier:email")] == 1
    assert stats[("events", "suppressed", "guest_order")] == 1
    assert {s["shop_domain"] for s in data["statistics"]} == {SHOP}
    assert data["store"]["contacts"] == {"active": 1}
    table = report(sqlite_url)
    assert table.returncode == 0
    assert "missing_identifier:email" in table.stdout
    assert "OK   demo-store.myshopify.com: customers records accounted for" in table.stdout
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from events where kind = 'order_placed'"))
    engine.dispose()
    broken = report(sqlite_url, "--shop", SHOP)
    assert broken.returncode == 1
    assert (
        "FAIL demo-store.myshopify.com: events created in the store: expected 2, found 1"
        in broken.stdout
    )


def test_report_on_an_empty_store(sqlite_url):
    done = report(sqlite_url)
    assert (done.returncode, done.stdout) == (0, "No runs recorded.\n")
