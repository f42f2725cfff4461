"""Presets select orders by when they were placed; customers and the roster stay complete.

The expectation is recomputed here from the emulator's store under the README's rule: an
order is emitted when ``created_at >= range start`` (fixed at the first run, kept in
state) and it is not a test order (unless ``include_test_orders``); every customer is.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from manifest_truth import assert_manifest_matches_store, manifest, versions
from shopify_emulator import generate_store
from tap_runner import run_tap
from tap_shopify_history.settings import SYNC_RANGES
from tap_shopify_history.shopify.extract import format_time, parse_time


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


@pytest.fixture(scope="module")
def store_server():
    from shopify_emulator import EmulatorServer  # noqa: PLC0415

    store = generate_store(seed=71, customers=16, orders=60)
    with EmulatorServer(store, plan="plus", bulk_seconds=0.1) as server:
        customer = server.control.snapshot()["customers"][0]["id"]
        server.control.create_order(customer, test=True)
        yield server


@pytest.mark.parametrize("include_test_orders", [False, True], ids=["no-tests", "tests"])
@pytest.mark.parametrize("preset", list(SYNC_RANGES), ids=list(SYNC_RANGES))
def test_preset_selects_orders_by_placement_and_keeps_customers(
    store_server, preset, include_test_orders
) -> None:
    config = config_for(
        store_server,
        sync_range=preset,
        include_test_orders=include_test_orders,
        extraction_mode="paginated",
    )
    output = run_tap(config)
    snapshot = store_server.control.snapshot()
    range_start = output.final_state["bookmarks"]["orders"]["range_start"]
    end = manifest(output)[("orders", "window")]["window_end"]
    days = SYNC_RANGES[preset]
    if days is None:
        assert range_start is None
    else:
        expected = parse_time(end) - timedelta(days=days)
        assert abs(parse_time(range_start) - expected) <= timedelta(seconds=2)
    want = {
        o["id"]
        for o in snapshot["orders"]
        if (range_start is None or o["created_at"] >= range_start)
        and (include_test_orders or not o["test"])
    }
    assert sorted(output.ids("orders")) == sorted(want)
    assert sorted(output.ids("customers")) == sorted(c["id"] for c in snapshot["customers"])
    assert len(output.ids("customer_roster")) == len(snapshot["customers"])
    rows = assert_manifest_matches_store(
        output, snapshot, include_test_orders=include_test_orders, range_start=range_start
    )
    assert rows[("customers", "window")]["window_start"] is None
    assert rows[("orders", "window")]["window_start"] == range_start


def test_range_start_is_fixed_and_later_changes_to_older_orders_are_counted(
    emulator_factory,
) -> None:
    server = emulator_factory(store=generate_store(seed=72, customers=10, orders=40), plan="plus")
    config = config_for(server, sync_range="last_30_days", extraction_mode="paginated")
    first = run_tap(config)
    range_start = first.final_state["bookmarks"]["orders"]["range_start"]
    before = server.control.snapshot()
    older = [o for o in before["orders"] if o["created_at"] < range_start and not o["test"]]
    inside = [o for o in before["orders"] if o["created_at"] >= range_start and not o["test"]]
    assert older
    assert inside
    server.control.update_order(older[0]["id"], tags=["touched"])
    server.control.update_order(inside[0]["id"], tags=["touched"])
    server.control.advance_time(5)
    second = run_tap(config, state=first.final_state)
    assert second.final_state["bookmarks"]["orders"]["range_start"] == range_start
    assert second.ids("orders") == [inside[0]["id"]]
    rows = assert_manifest_matches_store(
        second, server.control.snapshot(), previous=versions(first), range_start=range_start
    )
    assert rows[("orders", "window")]["excluded"]["outside_sync_range"] >= 1
    # A start_date keeps its meaning: the oldest updated_at read, for both streams.
    dated = run_tap(config_for(server, start_date=format_time(parse_time(range_start))))
    assert "range_start" in dated.final_state["bookmarks"]["orders"]
    assert dated.final_state["bookmarks"]["orders"]["range_start"] is None
