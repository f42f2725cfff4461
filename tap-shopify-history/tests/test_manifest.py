"""The ``sync_manifest`` stream equals a recomputation from the emulator's store."""

from __future__ import annotations

import re

import pytest
from manifest_truth import assert_manifest_matches_store, manifest, numbers, versions
from shopify_emulator import StoreBuilder, generate_store
from tap_runner import run_tap
from tap_shopify_history.manifest import PartTally
from tap_truth import assert_matches_snapshot


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


def with_test_orders(server, count: int = 2) -> None:
    customer = server.control.snapshot()["customers"][0]["id"]
    for _ in range(count):
        server.control.create_order(customer, test=True)
    server.control.create_order(None, test=True)  # a guest test order


MODES = {
    "paginated": {"extraction_mode": "paginated"},
    "bulk": {"extraction_mode": "bulk"},
    "bulk-windows-concurrent": {"extraction_mode": "bulk", "bulk_window_max_records": 9},
    "bulk-windows-one-at-a-time": {
        "extraction_mode": "bulk",
        "bulk_window_max_records": 9,
        "api_version": "2025-01",
    },
}


@pytest.mark.parametrize("mode", list(MODES), ids=list(MODES))
def test_backfill_manifest_counts_every_record_once(emulator_factory, mode) -> None:
    server = emulator_factory(
        store=generate_store(seed=61, customers=14, orders=24), bulk_seconds=0.1
    )
    with_test_orders(server)
    output = run_tap(config_for(server, **MODES[mode]))
    snapshot = server.control.snapshot()
    assert_matches_snapshot(output, snapshot)
    rows = assert_manifest_matches_store(output, snapshot)
    assert set(rows) == {
        ("customers", "window"),
        ("orders", "window"),
        ("customer_roster", "window"),
    }
    tests = sum(o["test"] for o in snapshot["orders"])
    assert tests >= 3
    assert rows[("orders", "window")]["excluded"] == {"test_order": tests}
    assert rows[("orders", "window")]["shopify_count_before"] == len(snapshot["orders"])
    orders = rows[("orders", "window")]
    assert orders["window_start"] is None  # all time
    assert orders["selection"] == f"updated_at:<'{orders['window_end']}'"
    assert orders["window_end"] == rows[("customers", "window")]["window_end"]


def test_test_orders_included_are_emitted_not_excluded(emulator_factory) -> None:
    server = emulator_factory(store=generate_store(seed=62, customers=6, orders=10))
    with_test_orders(server)
    output = run_tap(config_for(server, include_test_orders=True))
    snapshot = server.control.snapshot()
    rows = assert_manifest_matches_store(output, snapshot, include_test_orders=True)
    assert rows[("orders", "window")]["excluded"] == {}
    assert rows[("orders", "window")]["emitted"] == len(snapshot["orders"])


@pytest.mark.parametrize("mode", ["auto", "paginated", "bulk"])
def test_incremental_manifest_counts_the_lookback_as_already_emitted(
    emulator_factory, mode
) -> None:
    server = emulator_factory(
        store=generate_store(seed=63, customers=12, orders=20), bulk_seconds=0.1
    )
    config = config_for(server, extraction_mode=mode, lookback_window_seconds=3600 * 24 * 400)
    first = run_tap(config)
    control = server.control
    before = control.snapshot()
    control.update_customer(before["customers"][0]["id"], tags=["changed"])
    live = [o["id"] for o in before["orders"] if not o["test"] and not o["cancelled_at"]]
    control.cancel_order(live[0])
    control.create_order(before["customers"][1]["id"], test=True)
    second = run_tap(config, state=first.final_state)
    snapshot = control.snapshot()
    rows = assert_manifest_matches_store(second, snapshot, previous=versions(first))
    # The long lookback re-read (almost) everything: all of it is accounted for.
    orders = rows[("orders", "window")]
    assert orders["emitted"] == 1
    assert orders["excluded"]["test_order"] == 1 + sum(o["test"] for o in before["orders"])
    assert (
        orders["window_start"] < first.final_state["bookmarks"]["orders"]["replication_key_value"]
    )
    assert manifest(first)[("orders", "window")]["run_id"] != orders["run_id"]


def test_refund_sweep_has_its_own_part(emulator_factory) -> None:
    builder = StoreBuilder(seed=9)
    builder.customer().order(created_days_ago=5, line_items=2).order(created_days_ago=6)
    builder.order(created_days_ago=7, test=True).order(created_days_ago=50)
    server = emulator_factory(store=builder.build(), bulk_seconds=0.1)
    recent, unchanged, _test, _old = builder.order_ids
    config = config_for(server, extraction_mode="paginated", refund_sweep_days=30)
    first = run_tap(config)
    server.control.advance_time(120)
    server.control.refund_order(recent, amount="3.00", touch_order=False)
    server.control.refund_order(unchanged, amount="1.00", touch_order=False)
    swept = run_tap(config, state=first.final_state)
    rows = manifest(swept)
    sweep = rows[("orders", "refund_sweep")]
    created_from = re.search(r"created_at:>='([^']+)'", sweep["selection"]).group(1)
    in_sweep = [o for o in server.control.snapshot()["orders"] if o["created_at"] >= created_from]
    assert len(in_sweep) == 3
    assert numbers(sweep) == {
        "shopify_count_before": 3,
        "shopify_count_after": 3,
        "emitted": 2,
        "excluded": {"test_order": 1},
    }
    assert sorted(swept.ids("orders")) == sorted([recent, unchanged])
    again = manifest(run_tap(config, state=swept.final_state))[("orders", "refund_sweep")]
    assert numbers(again) == {
        "shopify_count_before": 3,
        "shopify_count_after": 3,
        "emitted": 0,
        "excluded": {"refunds_unchanged": 2, "test_order": 1},
    }


@pytest.mark.parametrize(
    ("before", "after", "emitted", "excluded", "reconciles"),
    [
        (10, 10, 10, {}, True),
        (10, 10, 8, {"test_order": 2}, True),
        (10, 9, 9, {}, True),
        (10, 9, 10, {}, True),
        (10, 10, 9, {}, False),
        (10, 10, 11, {}, False),
    ],
    ids=["exact", "excluded", "changed-before-read", "changed-after-read", "short", "over"],
)
def test_source_reconciliation_rule(before, after, emitted, excluded, reconciles) -> None:
    tally = PartTally("orders", "window", "", None, None, started_at="2026-01-01T00:00:00Z")
    tally.counted(before, after)
    tally.emitted = emitted
    for reason, count in excluded.items():
        for _ in range(count):
            tally.exclude(reason)
    assert tally.reconciles() is reconciles
