"""The tap's sync_manifest: stored, reconciled per stream, and how each run ends."""

from __future__ import annotations

import json
import subprocess

from loyalty_records import (
    SHOP,
    TARGET_EXE,
    Messages,
    customer,
    manifest_row,
    order,
    query,
    run_cli,
    run_target,
    with_manifest,
)


def config(url: str) -> dict[str, object]:
    return {"database_url": url, "as_of": "2024-06-01T00:00:00Z"}


def pending(oid: int, cid: int) -> dict:
    record = order(oid, cid, "10.00")
    record["financial_status"] = "PENDING"
    return record


def store() -> Messages:
    return (
        Messages()
        .records("customers", customer(1), customer(2))
        .records(
            "orders",
            order(101, 1, "10.00"),
            order(102, 1, "10.00", test=True),
            pending(103, 2),
            order(104, None, "10.00"),
        )
        .roster(1000, 1, 2)
    )


def complete(messages: Messages, orders_emitted: int = 4) -> Messages:
    return with_manifest(
        messages,
        manifest_row("customers", 2),
        manifest_row("orders", orders_emitted, excluded={"test_order": 3}),
        manifest_row("customer_roster", 2),
    )


def counts(url: str) -> dict[tuple[str, str], int]:
    rows = query(url, "SELECT stream, measure, count FROM loyalty_run_counts")
    return {(stream, measure): int(n) for stream, measure, n in rows}


def run_status(url: str) -> list[tuple]:
    return [tuple(r) for r in query(url, "SELECT status, error FROM loyalty_sync_runs")]


def test_a_complete_run_succeeds_and_its_counts_add_up(database_url):
    run_target(config(database_url), complete(store()))
    assert run_status(database_url) == [("succeeded", None)]
    assert counts(database_url) == {
        ("customers", "received"): 2,
        ("customers", "applied"): 2,
        ("customers", "emitted"): 2,
        ("customers", "shopify_count_before"): 2,
        ("customers", "shopify_count_after"): 2,
        ("orders", "received"): 4,
        ("orders", "applied"): 1,
        ("orders", "skipped:test_order"): 1,
        ("orders", "skipped:awaiting_payment"): 1,
        ("orders", "skipped:guest_order"): 1,
        ("orders", "emitted"): 4,
        ("orders", "excluded:test_order"): 3,
        ("orders", "shopify_count_before"): 7,
        ("orders", "shopify_count_after"): 7,
        ("customer_roster", "received"): 2,
        ("customer_roster", "applied"): 2,
        ("customer_roster", "emitted"): 2,
        ("customer_roster", "shopify_count_before"): 2,
        ("customer_roster", "shopify_count_after"): 2,
        ("sync_manifest", "received"): 3,
        ("sync_manifest", "applied"): 3,
    }
    manifest = query(
        database_url,
        "SELECT shop_domain, tap_run_id, stream, part, shopify_count_before, "
        "shopify_count_after, emitted, excluded FROM loyalty_sync_manifest ORDER BY stream",
    )
    assert [tuple(r) for r in manifest] == [
        (SHOP, "tap-run-1", "customer_roster", "window", 2, 2, 2, "{}"),
        (SHOP, "tap-run-1", "customers", "window", 2, 2, 2, "{}"),
        (SHOP, "tap-run-1", "orders", "window", 7, 7, 4, '{"test_order": 3}'),
    ]
    checks = query(database_url, "SELECT stream, check_name, status FROM loyalty_run_checks")
    assert sorted(tuple(c) for c in checks) == sorted(
        [
            (stream, name, "OK")
            for stream in ("customers", "orders", "customer_roster")
            for name in ("source:window", "received", "accounted")
        ]
        + [("customer_roster", "roster_complete", "OK")]
    )


def test_input_without_a_manifest_is_incomplete_and_exits_zero(sqlite_url, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(sqlite_url)))
    result = run_cli(path, store().text())
    assert result.returncode == 0, result.stderr[-2000:]
    [(status, error)] = run_status(sqlite_url)
    assert status == "incomplete"
    assert error.startswith("customers manifest FAIL: no sync_manifest: the tap did not finish")
    report = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 1
    assert f"{SHOP}: latest run" in report.stderr
    assert "is incomplete" in report.stderr
    assert "check (all) manifest: FAIL" not in report.stdout
    assert "check orders manifest: FAIL (no sync_manifest: the tap did not finish)" in report.stdout


def test_a_manifest_that_does_not_reconcile_exits_non_zero_after_committing(sqlite_url, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(sqlite_url)))
    result = run_cli(path, complete(store(), orders_emitted=5).text())
    assert result.returncode != 0
    assert "orders received FAIL: the tap emitted 5, the target received 4" in result.stderr
    [(status, error)] = run_status(sqlite_url)
    assert status == "unreconciled"
    assert error.startswith("orders received FAIL: the tap emitted 5, the target received 4")
    # Everything that arrived is committed.
    assert query(sqlite_url, "SELECT count(*) FROM loyalty_orders")[0][0] == 4
    report = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 1
    [run] = json.loads(report.stdout)["runs"]
    assert run["streams"]["orders"] == {
        "received": 4,
        "applied": 1,
        "quarantined": 0,
        "emitted": 5,
        "shopify_count_before": 8,
        "shopify_count_after": 8,
        "skipped": {"awaiting_payment": 1, "guest_order": 1, "test_order": 1},
        "excluded": {"test_order": 3},
    }
    assert {(c["stream"], c["check"], c["status"]) for c in run["checks"]} >= {
        ("orders", "received", "FAIL"),
        ("orders", "accounted", "OK"),
    }
    assert run["dead_letters"] == 0


def test_the_report_shows_each_stream_and_succeeds_for_a_succeeded_run(sqlite_url):
    run_target(config(sqlite_url), complete(store()))
    report = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert (
        "  stream orders: shopify before 7, shopify after 7, emitted 4, received 4, "
        "applied 1, quarantined 0" in report.stdout
    )
    assert "    skipped: awaiting_payment 1, guest_order 1, test_order 1" in report.stdout
    assert "    excluded by the tap: test_order 3" in report.stdout
    assert "  check orders received: OK (the tap emitted 4, the target received 4)" in (
        report.stdout
    )
