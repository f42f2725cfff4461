"""Full backfills against the emulator equal its store, record for record."""

from __future__ import annotations

import pytest
from shopify_emulator import StoreBuilder, generate_store
from tap_runner import run_tap
from tap_shopify_history.tap import TapShopifyHistory
from tap_truth import assert_matches_snapshot


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


def test_bulk_backfill_equals_the_store(emulator_factory) -> None:
    server = emulator_factory(
        store=generate_store(seed=11, customers=30, orders=120), bulk_seconds=0.2
    )
    output = run_tap(config_for(server, extraction_mode="bulk"))
    assert_matches_snapshot(output, server.control.snapshot())
    # STATE carries bookmarks but never the bulk job once it is done, nor the token.
    final = output.final_state["bookmarks"]
    assert "bulk" not in final["customers"]
    assert server.token not in str(output.states)


@pytest.mark.parametrize("api_version", ["2025-01", "2026-01"])
def test_paginated_backfill_equals_bulk_backfill(emulator_factory, api_version: str) -> None:
    builder = StoreBuilder(seed=3)
    for n in range(6):
        builder.customer(tags=["vip"] if n % 2 else [], phone=f"+1415555000{n}")
        builder.order(refund="partial" if n % 3 == 0 else None, line_items=3)
        builder.order(refund="multiple", cancelled=n == 2, line_items=12)  # > one page of lines
    builder.customer(email=None).order(test=True).order(guest=True, currency="EUR")
    server = emulator_factory(store=builder.build(), plan="plus", bulk_seconds=0.2)
    config = config_for(server, api_version=api_version, include_test_orders=True)
    paged = run_tap({**config, "extraction_mode": "paginated"})
    bulk = run_tap({**config, "extraction_mode": "bulk"})
    snapshot = server.control.snapshot()
    assert_matches_snapshot(paged, snapshot, include_test_orders=True)
    assert_matches_snapshot(bulk, snapshot, include_test_orders=True)
    for stream in ("customers", "orders", "customer_roster"):
        assert sorted(paged.records(stream), key=lambda r: r["id"]) == sorted(
            bulk.records(stream), key=lambda r: r["id"]
        )
    assert any(len(o["line_items"]) == 12 for o in paged.records("orders"))
    assert any(len(o["refunds"]) == 2 for o in bulk.records("orders"))


def test_test_orders_are_left_out_by_default(emulator_factory) -> None:
    store = StoreBuilder(seed=5).customer().order().order(test=True).build()
    server = emulator_factory(store=store, bulk_seconds=0.2)
    output = run_tap(config_for(server))
    assert [o["test"] for o in output.records("orders")] == [False]


def test_streams_come_in_contract_order_and_roster_closes_a_version(shopify_emulator) -> None:
    output = run_tap(config_for(shopify_emulator, sync_range="last_30_days"))
    order = [m["stream"] for m in output.messages if m["type"] == "SCHEMA"]
    assert order == ["customers", "orders", "customer_roster", "sync_manifest"]
    roster = output.types("customer_roster")
    # ACTIVATE_VERSION opens the version and, after the last roster record, closes it.
    assert roster[-1] == "ACTIVATE_VERSION"
    assert roster.count("RECORD") == len(shopify_emulator.control.snapshot()["customers"])


def test_bulk_windows_are_sized_to_the_data(emulator_factory, caplog) -> None:
    server = emulator_factory(
        store=generate_store(seed=13, customers=40, orders=60), bulk_seconds=0.1
    )
    config = config_for(server, extraction_mode="bulk", bulk_window_max_records=12)
    with caplog.at_level("INFO"):
        output = run_tap(config)
    assert_matches_snapshot(output, server.control.snapshot())
    jobs = [op.query for op in server.emulator.bulk.ops.values() if "UPDATED_AT" in op.query]
    assert len(jobs) >= 8  # 40 customers and ~57 orders in windows of at most 12
    assert all("updated_at:>=" in q or "updated_at:<" in q for q in jobs)
    summaries = [r.getMessage() for r in caplog.records if ": finished: " in r.getMessage()]
    assert any(
        line.startswith("customers: finished: 40 read of 40 counted by Shopify, 40 emitted")
        for line in summaries
    ), summaries


def test_concurrent_bulk_jobs_where_the_api_version_allows(emulator_factory) -> None:
    store = generate_store(seed=14, customers=40, orders=10)
    server = emulator_factory(store=store, bulk_seconds=1.0)
    config = config_for(server, extraction_mode="bulk", bulk_window_max_records=10)
    output = run_tap({**config, "api_version": "2026-01"})
    assert_matches_snapshot(output, server.control.snapshot())
    jobs = sorted(
        (op for op in server.emulator.bulk.ops.values() if op.query.startswith("{ customers(")),
        key=lambda op: op.created_at,
    )
    assert len(jobs) >= 4
    # The second job started before the first one ended: they ran at the same time.
    assert jobs[1].created_at < jobs[0].created_at + jobs[0].duration
    states = [s["bookmarks"].get("customers", {}) for s in output.states]
    assert any(len(s.get("bulk_queue", [])) >= 2 for s in states)


@pytest.mark.parametrize("mode", ["paginated", "bulk"])
def test_metafields_are_opt_in_by_namespace(emulator_factory, mode: str) -> None:
    store = generate_store(seed=15, customers=12, orders=0)
    server = emulator_factory(store=store, plan="plus", bulk_seconds=0.1)
    plain = run_tap(config_for(server, extraction_mode=mode))
    assert all(c["metafields"] == [] for c in plain.records("customers"))
    output = run_tap(config_for(server, extraction_mode=mode, metafield_namespaces=["loyalty"]))
    truth = {
        c["id"]: sorted(
            (m["namespace"], m["key"], m["value"], m["type"])
            for m in c["metafields"]
            if m["namespace"] == "loyalty"
        )
        for c in server.control.snapshot()["customers"]
    }
    got = {
        c["id"]: sorted((m["namespace"], m["key"], m["value"], m["type"]) for m in c["metafields"])
        for c in output.records("customers")
    }
    assert got == truth
    assert any(got.values())


def test_deselected_properties_are_left_out(emulator_factory) -> None:
    # Records skip the SDK's deselection walk only when nothing is deselected.
    server = emulator_factory(store=generate_store(seed=4, customers=5, orders=5))
    config = config_for(server, extraction_mode="paginated")
    catalog = TapShopifyHistory(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] in (["properties", "email"], ["properties", "line_items"]):
                item["metadata"]["selected"] = False
    output = run_tap(config, catalog=catalog)
    customers, orders = output.records("customers"), output.records("orders")
    assert customers
    assert orders
    assert all("email" not in r and "first_name" in r for r in customers)
    assert all("email" not in r and "line_items" not in r and "name" in r for r in orders)
