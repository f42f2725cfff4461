"""The customer roster reflects deletions and merges."""

from __future__ import annotations

import pytest
from shopify_emulator import StoreBuilder
from tap_runner import run_tap


@pytest.mark.parametrize("mode", ["paginated", "bulk"])
def test_roster_drops_deleted_and_merged_customers(emulator_factory, mode: str) -> None:
    builder = StoreBuilder(seed=12)
    builder.customer().order().order()  # keeper
    builder.customer().order()  # merged away
    builder.customer()  # deleted (no orders)
    builder.customer().order()  # untouched
    keep, merged, deleted, untouched = builder.customer_ids
    server = emulator_factory(store=builder.build(), bulk_seconds=0.2)
    config = {"store_url": server.base_url, "access_token": server.token, "extraction_mode": mode}
    first = run_tap(config)
    assert sorted(first.ids("customer_roster")) == sorted(builder.customer_ids)
    merged_orders = [o["id"] for o in first.records("orders") if o["customer_id"] == merged]

    server.control.delete_customer(deleted)
    server.control.merge_customers(keep, merged)
    second = run_tap(config, state=first.final_state)

    assert sorted(second.ids("customer_roster")) == sorted([keep, untouched])
    assert second.types("customer_roster")[-1] == "ACTIVATE_VERSION"
    versions = {m["version"] for m in second.messages if m["type"] == "ACTIVATE_VERSION"}
    record_versions = {
        m["version"]
        for m in second.messages
        if m["type"] == "RECORD" and m["stream"] == "customer_roster"
    }
    assert record_versions == versions  # the closing version is the one the records carry
    # The merge shows up earlier in the same run as the orders' new customer_id.
    moved = {o["id"]: o["customer_id"] for o in second.records("orders")}
    assert {moved[o] for o in merged_orders} == {keep}
