"""Second runs with state emit exactly what changed: the bookmark edge and index lag."""

from __future__ import annotations

from shopify_emulator import StoreBuilder, generate_store, mutations
from tap_runner import run_tap


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


def changed(before: dict, after: dict, kind: str) -> set[int]:
    old = {r["id"]: r["updated_at"] for r in before[kind]}
    return {r["id"] for r in after[kind] if old.get(r["id"]) != r["updated_at"]}


def test_second_run_emits_exactly_the_changed_records(emulator_factory) -> None:
    server = emulator_factory(
        store=generate_store(seed=21, customers=25, orders=80), bulk_seconds=0.2
    )
    config = config_for(server)
    first = run_tap(config)
    jobs_after_backfill = len(server.emulator.bulk.ops)
    before = server.control.snapshot()
    control = server.control
    customers = [c["id"] for c in before["customers"]]
    live_orders = [o["id"] for o in before["orders"] if not o["test"] and not o["cancelled_at"]]
    control.update_customer(customers[0], tags=["vip", "changed"])
    control.update_customer(customers[1], email_state="UNSUBSCRIBED")
    new_customer = control.create_customer(email="new@example.com", first_name="New")
    new_order = control.create_order(new_customer)
    control.refund_order(live_orders[0], amount="1.00")
    control.cancel_order(live_orders[1])
    after = server.control.snapshot()

    second = run_tap(config, state=first.final_state)
    # `auto`: the backfill used bulk jobs, a small catch-up pages (no new bulk job).
    assert jobs_after_backfill >= 2
    assert len(server.emulator.bulk.ops) == jobs_after_backfill
    assert sorted(second.ids("customers")) == sorted(changed(before, after, "customers"))
    assert new_customer in second.ids("customers")
    assert sorted(second.ids("orders")) == sorted(changed(before, after, "orders"))
    assert {new_order, live_orders[0], live_orders[1]} <= set(second.ids("orders"))
    refunded = next(o for o in second.records("orders") if o["id"] == live_orders[0])
    assert refunded["total_refunded_set"]["shop_money"]["amount"] != "0.00"

    # Nothing changed since: a third run emits nothing (no endless re-emission at the edge).
    third = run_tap(config, state=second.final_state)
    assert third.ids("customers") == []
    assert third.ids("orders") == []


def test_changes_in_the_bookmark_second_are_not_lost_nor_repeated(emulator_factory) -> None:
    builder = StoreBuilder(seed=8)
    edge = builder._now - 300
    for _ in range(4):
        builder.customer(updated_at=edge)  # four customers share the bookmark's second
    builder.customer(updated_at=edge - 50)
    builder.customer(updated_at=edge - 5000)
    store = builder.build()
    server = emulator_factory(store=store, bulk_seconds=0.2)
    config = config_for(server, extraction_mode="paginated")
    first = run_tap(config)
    assert first.final_state["bookmarks"]["customers"]["replication_key_value"].endswith("Z")
    assert len(first.ids("customers")) == 6

    # Later changes stamped with that very second (Matatika drops these; a plain `>` too).
    late, older = builder.customer_ids[4], builder.customer_ids[5]
    with store.lock:
        mutations.update_customer(store, late, edge, note="changed in the bookmark second")
        mutations.update_customer(store, older, edge, tags=["same-second"])
    second = run_tap(config, state=first.final_state)
    assert sorted(second.ids("customers")) == sorted([late, older])
    third = run_tap(config, state=second.final_state)
    assert third.ids("customers") == []


def test_changes_hidden_by_index_lag_arrive_on_the_next_run(emulator_factory) -> None:
    server = emulator_factory(
        store=generate_store(seed=4, customers=12, orders=20), bulk_seconds=0.2
    )
    control = server.control
    config = config_for(server, lookback_window_seconds=60)
    first = run_tap(config)
    ids = [c["id"] for c in control.snapshot()["customers"]]
    control.set_index_lag(30)
    control.update_customer(ids[0], note="hidden by index lag")  # invisible to search for 30s
    control.set_index_lag(0)
    control.advance_time(2)
    control.update_customer(
        ids[1], note="visible at once"
    )  # later, visible: the bookmark moves past
    second = run_tap(config, state=first.final_state)
    assert second.ids("customers") == [ids[1]]
    control.advance_time(31)
    third = run_tap(config, state=second.final_state)
    assert third.ids("customers") == [ids[0]]  # caught by the lookback, not re-emitting ids[1]
    assert run_tap(config, state=third.final_state).ids("customers") == []


def test_refund_sweep_catches_refunds_that_do_not_touch_the_order(emulator_factory) -> None:
    builder = StoreBuilder(seed=9)
    builder.customer().order(created_days_ago=5, line_items=2).order(created_days_ago=50)
    store = builder.build()
    server = emulator_factory(store=store, bulk_seconds=0.2)
    recent_order, old_order = builder.order_ids
    base = config_for(server, extraction_mode="paginated")
    first = run_tap(base)
    server.control.advance_time(120)
    server.control.refund_order(recent_order, amount="3.00", touch_order=False)

    without = run_tap(base, state=first.final_state)
    assert without.ids("orders") == []  # the order's updatedAt did not move
    swept = run_tap({**base, "refund_sweep_days": 30}, state=first.final_state)
    assert swept.ids("orders") == [recent_order]
    refunds = swept.records("orders")[0]["refunds"]
    assert [r["total_refunded_set"]["shop_money"]["amount"] for r in refunds] == ["3.00"]
    again = run_tap({**base, "refund_sweep_days": 30}, state=swept.final_state)
    assert again.ids("orders") == []
    assert old_order not in swept.ids("orders")
