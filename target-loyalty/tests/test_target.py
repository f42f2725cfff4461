"""The target on SQLite and PostgreSQL: books, replays, splits, roster, statistics."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

import pytest
from loyalty_records import (
    SHOP,
    TARGET_EXE,
    Messages,
    at,
    balances,
    customer,
    ledger,
    manifest_for,
    order,
    query,
    refund,
    run_target,
)
from target_loyalty.exceptions import RejectedRecordsLimitError

TIERS = [
    {"name": "Bronze", "entry_threshold": "0", "cashback_percent": "1"},
    {"name": "Gold", "entry_threshold": "150", "retain_threshold": "100", "cashback_percent": "5"},
]


def config(url, **extra):
    base = {
        "database_url": url,
        "signup_bonus_points": 25,
        "signup_bonus_existing_customers": True,
        "tiers": TIERS,
        "tier_evaluation_period": "lifetime",
        "as_of": "2024-06-01T00:00:00Z",
    }
    base.update(extra)
    return base


def store_messages() -> Messages:
    m = Messages()
    m.records("customers", customer(1), customer(2), customer(3))
    m.state({"bookmarks": {"customers": {"replication_key_value": at(1, 1)}}})
    m.records(
        "orders",
        order(101, 1, "120.50"),
        order(102, 1, "60.00", refunds=[refund(9001, "20.00", shipping="5.00")]),
        order(103, 2, "80.00", cancelled=at(3)),
        order(104, None, "30.00"),
        order(105, 2, "10.00", test=True),
        order(106, 3, "40.00", tags=["skip_loyalty"]),
    )
    bad = order(107, 3, "1.00")
    bad["subtotal_price_set"]["shop_money"]["amount"] = "one dollar"
    m.records("orders", bad)
    m.state({"bookmarks": {"orders": {"replication_key_value": at(1)}}})
    m.roster(1000, 1, 2, 3)
    return manifest_for(m)


def test_the_books_follow_the_rules(database_url):
    states = run_target(config(database_url), store_messages())
    assert states[-1] == {"bookmarks": {"orders": {"replication_key_value": at(1)}}}
    assert balances(database_url) == {1: 25 + 120 + 40, 2: 25, 3: 25}
    rows = {(c, s, k): p for c, s, k, p, _ in ledger(database_url)}
    assert rows[(1, "refund:9001", "refund_reversal")] == -20  # shipping refund takes nothing
    assert rows[(2, "order:103", "cancellation_reversal")] == -80
    cashback = {(c, s): cash for c, s, k, _, cash in ledger(database_url) if k == "cashback"}
    # Cashback follows the tier held when ordering: Bronze (1%) for both orders, though
    # customer 1 is Gold now (160.50 net spend).
    assert cashback == {(1, "order:101"): Decimal("1.2"), (1, "order:102"): Decimal("0.4")}
    accounts = query(
        database_url,
        "SELECT customer_id, tier, points_balance FROM loyalty_accounts ORDER BY customer_id",
    )
    assert [tuple(a) for a in accounts] == [(1, "Gold", 185), (2, "Bronze", 25), (3, "Bronze", 25)]
    reasons = query(database_url, "SELECT record_key, field, reason FROM loyalty_discrepancies")
    assert sorted((r[0], r[1]) for r in reasons) == [
        ("orders:104", "customer_id"),
        ("orders:105", "test"),
        ("orders:106", "tags"),
        ("orders:107", "subtotal_price_set.shop_money.amount"),
    ]
    [quarantined] = query(
        database_url, "SELECT stream, record_key, field, payload FROM loyalty_quarantine"
    )
    assert quarantined[:3] == ("orders", "107", "subtotal_price_set.shop_money.amount")
    assert json.loads(quarantined[3])["id"] == 107
    [run] = query(
        database_url,
        "SELECT status, orders_synced, customers_synced, discrepancies, quarantined, "
        "cashback_issued, earliest_order_at FROM loyalty_sync_runs",
    )
    assert run[:5] == ("succeeded", 6, 3, 4, 1)
    assert Decimal(str(run[5])) == Decimal("1.60")


def test_replaying_the_same_input_adds_nothing(database_url):
    run_target(config(database_url), store_messages())
    first = ledger(database_url)
    run_target(config(database_url), store_messages())
    assert ledger(database_url) == first
    issued = query(database_url, "SELECT points_issued FROM loyalty_sync_runs ORDER BY started_at")
    assert [r[0] for r in issued][1] == 0


@pytest.mark.parametrize("batch", [1, 3])
def test_any_batch_split_gives_the_same_ledger(sqlite_url, tmp_path, batch):
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_target(config(reference), store_messages())
    run_target(config(sqlite_url, batch_size_rows=batch), store_messages())
    assert ledger(sqlite_url) == ledger(reference)


def test_refunds_cancellations_deletion_and_merge(database_url):
    run_target(config(database_url), store_messages())
    later = Messages()
    later.records(
        "orders",
        # Customer 1 was merged into customer 2: its orders now belong to 2.
        order(101, 2, "120.50", updated=at(10), refunds=[refund(9002, "50.50", created=at(9))]),
        order(102, 2, "60.00", updated=at(10), refunds=[refund(9001, "20.00", shipping="5.00")]),
    )
    later.roster(2000, 2)  # 1 merged away, 3 deleted
    run_target(config(database_url, max_roster_deletion_share=1), manifest_for(later))
    assert balances(database_url) == {2: 25 + 70 + 40, 3: 25}
    accounts = {
        r[0]: (r[1], r[2])
        for r in query(
            database_url, "SELECT customer_id, status, merged_into FROM loyalty_accounts"
        )
    }
    assert accounts == {1: ("merged", 2), 2: ("active", None), 3: ("deleted", None)}
    sources = [s for c, s, k, p, _ in ledger(database_url) if c == 2 and k == "signup_bonus"]
    assert sources == ["signup"]  # the merged signup bonus was not duplicated
    # After the retention period the deleted customer and its rows are purged.
    run_target(config(database_url, as_of="2026-01-01T00:00:00Z"), Messages().roster(3000, 2))
    assert set(balances(database_url)) == {2}
    assert [r[0] for r in query(database_url, "SELECT customer_id FROM loyalty_accounts")] == [2]


def test_reconcile_off_and_metrics_off(database_url):
    cfg = config(database_url, reconcile_existing_ledger=False, update_customer_metrics=False)
    run_target(cfg, Messages().records("orders", order(1, 5, "100.00")))
    changed = Messages().records(
        "orders", order(1, 5, "100.00", updated=at(5), refunds=[refund(8, "40.00")])
    )
    run_target(cfg, changed)
    assert balances(database_url) == {5: 100}
    [note] = query(database_url, "SELECT reason FROM loyalty_discrepancies")
    assert "reconcile_existing_ledger is off" in note[0]
    assert query(database_url, "SELECT tier, points_balance FROM loyalty_accounts") == [
        (None, None)
    ]
    run_target(config(database_url), changed)
    assert balances(database_url) == {5: 60}


def test_balances_may_be_kept_at_zero(database_url):
    cfg = config(
        database_url, allow_negative_balance=False, points_expiry_days=30, signup_bonus_points=0
    )
    run_target(cfg, Messages().records("orders", order(1, 5, "100.00")))
    assert balances(database_url) == {5: 0}  # expired 30 days after March 1st
    refunded = order(
        1, 5, "100.00", updated=at(5, 7), refunds=[refund(8, "40.00", created=at(4, 7))]
    )
    run_target(cfg, Messages().records("orders", refunded))
    assert balances(database_url) == {5: 0}
    [(points, uncollected)] = query(
        database_url,
        "SELECT points, uncollected FROM loyalty_ledger WHERE kind = 'refund_reversal'",
    )
    assert (points, uncollected) == (0, 40)
    run_target(cfg, Messages().records("orders", refunded))
    point_rows = [r for r in ledger(database_url) if r[2] != "cashback"]
    assert len(point_rows) == 3  # earn, expiry, clamped reversal: nothing re-booked


def test_shops_are_kept_apart(database_url):
    other = "other-store.myshopify.com"
    m = Messages().records("orders", order(1, 5, "10.00"), order(1, 5, "99.00", shop=other))
    run_target(config(database_url, signup_bonus_points=0), m)
    assert balances(database_url) == {5: 10}
    assert balances(database_url, other) == {5: 99}
    assert len(query(database_url, "SELECT * FROM loyalty_sync_runs")) == 2


def test_too_many_rejects_fail_the_run_clearly(database_url):
    bad = [order(i, 5, "1.00", shipping="0") for i in range(3)]
    for record in bad:
        record["currency_code"] = "XYZ"
    with pytest.raises(RejectedRecordsLimitError, match="max_rejected_records=2"):
        run_target(config(database_url, max_rejected_records=2), Messages().records("orders", *bad))
    assert len(query(database_url, "SELECT * FROM loyalty_quarantine")) == 3
    [(status, error)] = query(database_url, "SELECT status, error FROM loyalty_sync_runs")
    assert status == "failed"
    assert "max_rejected_records" in error
    assert query(database_url, "SELECT * FROM loyalty_sync_locks") == []


def test_report_command(sqlite_url):
    run_target(config(sqlite_url), store_messages())
    as_json = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url, "--format", "json", "--shop", SHOP],
        capture_output=True,
        text=True,
        check=True,
    )
    [run] = json.loads(as_json.stdout)["runs"]
    assert (run["orders_synced"], run["discrepancies"], run["cashback_issued"]) == (6, 4, "1.60")
    assert {d["record_key"] for d in run["discrepancy_rows"]} >= {"orders:104", "orders:107"}
    table = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "orders synced        6" in table
    assert "1 x [not applied] orders.test: test order earns nothing" in table
    detailed = subprocess.run(
        [TARGET_EXE, "report", "--database-url", sqlite_url, "--details"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "[not applied] orders orders:105 test: test order earns nothing" in detailed
