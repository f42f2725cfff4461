"""`target-crm report`: outcome, per-stream reconciliation and checks, as a table and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, order, run_target
from target_crm.exceptions import RunUnreconciledError

TARGET = str(Path(sys.executable).parent / "target-crm")


def report(url, *args):
    return subprocess.run(
        [TARGET, "report", "--database-url", url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def q(url, sql):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def complete_feed():
    feed = (
        Feed().customers(customer(1), customer(2, email=None)).orders(order(1, 1), order(2, None))
    )
    feed.customers(customer(9, shop="other.myshopify.com"))
    feed.roster([1, 2]).manifest(
        orders={"shopify_count_before": 3, "shopify_count_after": 3, "excluded": {"test_order": 1}}
    )
    return feed.manifest(shop="other.myshopify.com", streams=("customers",))


def test_report_json_table_and_failed_reconciliation(sqlite_url):
    run_target({"database_url": sqlite_url}, complete_feed())
    done = report(sqlite_url, "--format", "json", "--shop", SHOP)
    assert done.returncode == 0, done.stdout
    data = json.loads(done.stdout)
    assert (data["ok"], data["outcome"], data["run"]["status"]) == (True, "succeeded", "succeeded")
    stats = {(s["stream"], s["outcome"], s["reason"]): s["count"] for s in data["statistics"]}
    assert stats[("customers", "received", "")] == 2
    assert stats[("customers", "skipped", "missing_identifier:email")] == 1
    assert stats[("events", "suppressed", "guest_order")] == 1
    assert {s["shop_domain"] for s in data["statistics"]} == {SHOP}
    streams = {s["stream"]: s for s in data["streams"]}
    assert streams["orders"] == {
        "shop_domain": SHOP,
        "stream": "orders",
        "received": 2,
        "applied": 2,
        "skipped": {},
        "quarantined": 0,
        "shopify_count_before": 3,
        "shopify_count_after": 3,
        "emitted": 2,
    }
    assert streams["customers"]["skipped"] == {"missing_identifier:email": 1}
    assert data["store"]["contacts"] == {"active": 1}
    checks = {(c["stream"], c["part"], c["check"]): c["ok"] for c in data["reconciliation"]}
    assert checks[("orders", "window", "source reconciles with Shopify's count")] is True
    assert checks[("orders", "", "received what the tap emitted")] is True
    table = report(sqlite_url)
    assert table.returncode == 0, table.stdout
    assert "outcome=succeeded" in table.stdout
    assert "missing_identifier:email" in table.stdout
    assert (
        "OK   demo-store.myshopify.com: orders/window: source reconciles with Shopify's count: "
        "shopify_count_after 3 <= emitted 2 + excluded 1 <= shopify_count_before 3"
    ) in table.stdout
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


def test_an_input_without_manifest_is_incomplete_and_the_report_fails(sqlite_url):
    run_target({"database_url": sqlite_url}, Feed().customers(customer(1)).orders(order(1, 1)))
    assert q(sqlite_url, "select status from sync_runs") == [("incomplete",)]
    assert q(sqlite_url, "select outcome, message from crm_run_shops") == [
        ("incomplete", f"{SHOP}: the input ended with no sync_manifest")
    ]
    assert q(sqlite_url, "select count(*) from contacts") == [(1,)]  # committed all the same
    done = report(sqlite_url, "--shop", SHOP)
    assert done.returncode == 1
    assert "outcome=incomplete" in done.stdout


def test_a_manifest_lacking_a_received_stream_is_incomplete(sqlite_url):
    feed = Feed().customers(customer(1)).orders(order(1, 1)).manifest(streams=("customers",))
    run_target({"database_url": sqlite_url}, feed)
    assert q(sqlite_url, "select outcome, message from crm_run_shops") == [
        ("incomplete", f"{SHOP}: the input ended with no sync_manifest for orders")
    ]


def test_unreconciled_run_commits_exits_non_zero_and_names_the_check(sqlite_url):
    feed = Feed().customers(customer(1), customer(2)).orders(order(1, 1))
    feed.manifest(streams=("customers", "orders"), orders={"emitted": 3})
    with pytest.raises(RunUnreconciledError, match=r"orders/window: source reconciles"):
        run_target({"database_url": sqlite_url}, feed)
    assert q(sqlite_url, "select status from sync_runs") == [("unreconciled",)]
    assert q(sqlite_url, "select count(*) from orders") == [(1,)]
    checks = q(
        sqlite_url,
        "select stream, part, check_name, expected, actual, ok from crm_run_checks "
        "where not ok order by 1, 2, 3",
    )
    assert checks == [
        ("orders", "", "received what the tap emitted", 3, 1, 0),
        ("orders", "window", "source reconciles with Shopify's count", 1, 3, 0),
    ]
    done = report(sqlite_url)
    assert done.returncode == 1
    assert (
        "FAIL demo-store.myshopify.com: orders: received what the tap emitted: "
        "emitted 3, received 1" in done.stdout
    )
    # As a process: non-zero exit after committing, the message names the check and numbers.
    config = Path(sqlite_url.removeprefix("sqlite:///")).with_suffix(".json")
    config.write_text(json.dumps({"database_url": sqlite_url}))
    proc = subprocess.run(
        [TARGET, "--config", str(config)],
        input=feed.text(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "orders: received what the tap emitted: emitted 3, received 1" in proc.stderr


def test_report_on_an_empty_store(sqlite_url):
    done = report(sqlite_url)
    assert (done.returncode, done.stdout) == (0, "No runs recorded.\n")


def test_a_refused_run_is_recorded_refused_and_not_reported_as_latest(sqlite_url):
    from target_crm.exceptions import SyncAlreadyRunningError  # noqa: PLC0415
    from target_crm.runs import RunLedger  # noqa: PLC0415
    from target_crm.storage import create_store  # noqa: PLC0415

    run_target({"database_url": sqlite_url}, complete_feed())
    ((data_run,),) = q(sqlite_url, "select run_id from sync_runs")
    engine = create_store(sqlite_url)
    holder = RunLedger(engine, "holder", lease_seconds=3600)
    holder.start(datetime.now(UTC))
    holder.acquire(SHOP, datetime.now(UTC))
    with engine.begin() as conn:  # a live run on another host holds the shop
        conn.execute(sa.text("update sync_locks set hostname = 'elsewhere'"))
    engine.dispose()
    with pytest.raises(SyncAlreadyRunningError):
        run_target({"database_url": sqlite_url}, Feed().customers(customer(1)))
    statuses = q(
        sqlite_url,
        f"select status, error from sync_runs where run_id not in ('holder', '{data_run}')",
    )
    assert [s for s, _ in statuses] == ["refused"]
    assert "another sync is running for shop demo-store.myshopify.com: run holder" in statuses[0][1]
    assert q(sqlite_url, "select count(*) from sync_locks where run_id != 'holder'") == [(0,)]
    with create_store(sqlite_url).begin() as conn:  # the holder finishes; only refused is newer
        conn.execute(sa.text("delete from sync_runs where run_id = 'holder'"))
    done = report(sqlite_url, "--format", "json")
    assert json.loads(done.stdout)["run"]["run_id"] == data_run
    assert done.returncode == 0
