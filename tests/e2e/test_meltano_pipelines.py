"""`meltano run` end to end: backfill, identical re-run, incremental after store changes.

Real Meltano (plugins installed into their own venvs from `meltano.yml`), the real tap over
HTTP against the emulator, both targets on SQLite and on PostgreSQL; every assertion reads
the destination databases or Meltano's stored state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shopify_emulator import generate_store

from .conftest import MeltanoProject, table_rows

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PIPELINE = ("run", "tap-shopify-history", "target-loyalty", "tap-shopify-history", "target-crm")
LOYALTY_STATE_ID = "dev:tap-shopify-history-to-target-loyalty"
CRM_STATE_ID = "dev:tap-shopify-history-to-target-crm"
# Bookkeeping that legitimately differs between runs: which run wrote a row, and when.
RUN_COLUMNS = ("entry_id", "run_id", "recorded_at", "last_run_id", "metrics_at")


def _books(urls: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """What a merchant sees in both destinations."""
    return {
        "ledger": table_rows(urls["loyalty"], "loyalty_ledger", RUN_COLUMNS),
        "accounts": table_rows(urls["loyalty"], "loyalty_accounts", RUN_COLUMNS),
        "loyalty_orders": table_rows(urls["loyalty"], "loyalty_orders", RUN_COLUMNS),
        "events": table_rows(urls["crm"], "events", RUN_COLUMNS),
        "contacts": table_rows(urls["crm"], "contacts", (*RUN_COLUMNS, "updated_in_store_at")),
        "crm_orders": table_rows(urls["crm"], "orders", RUN_COLUMNS),
    }


def _columns(urls: dict[str, str], table: str, *names: str) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa  # noqa: PLC0415

    engine = sa.create_engine(urls["loyalty" if table.startswith("loyalty_") else "crm"])
    with engine.connect() as connection:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
        rows = connection.execute(sa.select(*(reflected.c[n] for n in names))).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def _reports_through_meltano(
    meltano_project: MeltanoProject,
    urls: dict[str, str],
    live_orders: dict[Any, Any],
    tmp_path: Path,
) -> None:
    """`meltano invoke <target>:report` reads the database Meltano configured for the plugin
    (here $TARGET_*_DATABASE_URL, SQLite or PostgreSQL): its figures are the books'."""
    loyalty = json.loads(meltano_project("invoke", "target-loyalty:report", "--format", "json"))
    (run,) = loyalty["runs"]
    assert run["orders_synced"] == len(live_orders)
    assert run["run_id"] == _columns(urls, "loyalty_sync_runs", "run_id")[0][0]
    crm = json.loads(meltano_project("invoke", "target-crm:report", "--format", "json"))
    assert crm["ok"], crm["reconciliation"]
    assert crm["run"]["run_id"] == _columns(urls, "sync_runs", "run_id")[0][0]
    assert crm["store"]["orders"] == len(_columns(urls, "orders", "order_id"))
    page = tmp_path / "crm-report.html"
    meltano_project("invoke", "target-crm:report", "--format", "html", "--output", str(page))
    assert 'data-figure="outcome" data-value="succeeded"' in page.read_text()


@pytest.mark.e2e
@pytest.mark.parametrize("destination_urls", BACKENDS, indirect=True)
def test_backfill_rerun_and_incremental_through_meltano(
    meltano_project: MeltanoProject,
    destination_urls: dict[str, str],
    emulator_factory: Any,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(store=generate_store(seed=21, customers=40, orders=240))
    meltano_project.env.update(
        SHOPIFY_STORE_URL=emulator.base_url, SHOPIFY_ACCESS_TOKEN=emulator.token
    )

    # 1. Backfill: every non-test order reaches both destinations, once.
    meltano_project(*PIPELINE)
    truth = emulator.control.snapshot()
    live_orders = {o["id"]: o for o in truth["orders"] if not o["test"]}
    assert {row[0] for row in _columns(destination_urls, "loyalty_orders", "order_id")} == set(
        live_orders
    )
    assert {row[0] for row in _columns(destination_urls, "orders", "order_id")} == set(live_orders)
    placed = [
        row[0]
        for row in _columns(destination_urls, "events", "order_id", "kind")
        if row[1] == "order_placed"
    ]
    assert len(placed) == len(set(placed)), "an order got two Order Placed events"
    assert set(placed) <= set(live_orders)
    for state_id in (LOYALTY_STATE_ID, CRM_STATE_ID):
        bookmarks = meltano_project.state(state_id)["singer_state"]["bookmarks"]
        newest = max(o["updated_at"] for o in live_orders.values())
        assert bookmarks["orders"]["replication_key_value"] >= newest
    _reports_through_meltano(meltano_project, destination_urls, live_orders, tmp_path)
    backfilled = _books(destination_urls)
    assert backfilled["ledger"]
    assert backfilled["events"]
    assert backfilled["contacts"]

    # 2. The same run again changes nothing anywhere.
    meltano_project(*PIPELINE)
    assert _books(destination_urls) == backfilled

    # 3. Changes in the store: exactly those are applied.
    customers_with_orders = {o["customer_id"] for o in live_orders.values() if o["customer_id"]}
    buyer = next(c for c in truth["customers"] if c["id"] in customers_with_orders and c["email"])
    idle = next(c for c in truth["customers"] if c["id"] not in customers_with_orders)
    paid = [
        o
        for o in live_orders.values()
        if o["customer_id"] == buyer["id"] and not o["refunds"] and not o["cancelled_at"]
    ]
    refunded_order, cancelled_order = paid[0], paid[1]
    new_order_id = emulator.control.create_order(customer_id=buyer["id"])
    first_line = refunded_order["line_items"][0]
    refund_id = emulator.control.refund_order(
        refunded_order["id"], line_items=[(first_line["id"], 1)]
    )
    emulator.control.cancel_order(cancelled_order["id"])
    emulator.control.delete_customer(idle["id"])
    emulator.control.advance_time(5)

    meltano_project(*PIPELINE)
    after = _books(destination_urls)
    added_ledger = [row for row in after["ledger"] if row not in backfilled["ledger"]]
    assert added_ledger, "the incremental run booked nothing"
    ledger = _columns(destination_urls, "loyalty_ledger", "source", "kind", "order_id")
    kinds_by_order: dict[Any, set[str]] = {}
    for _source, kind, order_id in ledger:
        kinds_by_order.setdefault(order_id, set()).add(kind)
    assert "earn" in kinds_by_order[new_order_id], "the new order earned nothing"
    refund_rows = [r for r in ledger if r[2] == refunded_order["id"]]
    assert (f"refund:{refund_id}", "refund_reversal", refunded_order["id"]) in ledger, (
        refund_id,
        refund_rows,
    )
    assert "cancellation_reversal" in kinds_by_order[cancelled_order["id"]]

    touched_orders = {new_order_id, refunded_order["id"], cancelled_order["id"]}
    added_ids = {row[0] for row in after["events"] if row not in backfilled["events"]}
    events = _columns(
        destination_urls, "events", "event_id", "order_id", "kind", "triggers_automations"
    )
    added_events = [row for row in events if row[0] in added_ids]
    assert {(order_id, kind) for _, order_id, kind, _ in added_events if order_id} >= {
        (new_order_id, "order_placed"),
        (refunded_order["id"], "order_refunded"),
        (cancelled_order["id"], "order_cancelled"),
    }
    assert {order_id for _, order_id, _, _ in added_events if order_id} <= touched_orders
    assert all(flag for *_, flag in added_events), "changes after the backfill must trigger"

    statuses = dict(_columns(destination_urls, "loyalty_accounts", "customer_id", "status"))
    assert statuses[idle["id"]] != "active"
    contact_status = dict(_columns(destination_urls, "contacts", "customer_id", "status"))
    if idle["email"]:
        assert contact_status[idle["id"]] == "deleted"

    # 4. And once more: nothing new.
    meltano_project(*PIPELINE)
    assert _books(destination_urls) == after
