"""target-crm passes the testkit's target contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from testkit.target_contract import TargetContract

# Columns that record which run wrote a row, or when, rather than what the merchant sees.
BOOKKEEPING = {
    "entry_id",
    "run_id",
    "recorded_at",
    "last_run_id",
    "metrics_at",
    "created_run_id",
    "created_in_store_at",
    "updated_in_store_at",
    "id",
    "first_synced_at",
}


def read_tables(database_url: str, tables: list[str], shop_domain: str) -> dict[str, Any]:
    """The shop's rows of each table, without bookkeeping columns, in a stable order."""
    engine = sa.create_engine(database_url)
    state: dict[str, Any] = {}
    try:
        with engine.connect() as connection:
            for name in tables:
                table = sa.Table(name, sa.MetaData(), autoload_with=connection)
                columns = [c for c in table.columns if c.name not in BOOKKEEPING]
                query = sa.select(*columns)
                if "shop_domain" in table.c:
                    query = query.where(table.c.shop_domain == shop_domain)
                state[name] = sorted((tuple(r) for r in connection.execute(query)), key=repr)
    finally:
        engine.dispose()
    return state


def select_rows(database_url: str, statement: str, **parameters: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(statement), parameters)]
    finally:
        engine.dispose()


class TestTargetCrmContract(TargetContract):
    executable = "target-crm"

    def config(self, database_url: str) -> dict[str, Any]:
        return {"database_url": database_url}

    def observable_state(self, database_url: str, shop_domain: str) -> Any:
        state = read_tables(database_url, ["contacts", "orders"], shop_domain)
        # contact.created/updated are stamped with the CRM's own clock (seed 001), so their
        # time is bookkeeping; order events keep the order's original Shopify time.
        state["events"] = sorted(
            select_rows(
                database_url,
                "SELECT event_id, kind, name, customer_id, order_id, triggers_automations,"
                " CASE WHEN kind LIKE 'contact%' THEN NULL ELSE occurred_at END, properties"
                " FROM events WHERE shop_domain = :shop",
                shop=shop_domain,
            ),
            key=repr,
        )
        return state

    def live_customer_ids(self, database_url: str, shop_domain: str) -> set[int]:
        rows = select_rows(
            database_url,
            "SELECT customer_id FROM contacts WHERE shop_domain = :shop AND status = 'active'",
            shop=shop_domain,
        )
        return {int(r[0]) for r in rows}

    def quarantined(self, database_url: str) -> list[tuple[str, str]]:
        rows = select_rows(database_url, "SELECT stream, field, reason FROM quarantine")
        return [(stream, f"{field}: {reason}") for stream, field, reason in rows]

    def dead_letters(self, database_url: str) -> list[tuple[int, str]]:
        rows = select_rows(database_url, "SELECT line_number, reason FROM crm_dead_letters")
        return [(int(number), str(reason)) for number, reason in rows]

    def quarantined_records(self, database_url: str) -> list[tuple[str, str, str, str]]:
        rows = select_rows(database_url, "SELECT stream, record_key, field, reason FROM quarantine")
        return [(str(s), str(k), str(f), str(r)) for s, k, f, r in rows]

    def run_outcomes(self, database_url: str) -> list[str]:
        rows = select_rows(database_url, "SELECT status FROM sync_runs ORDER BY started_at, run_id")
        return [str(status) for (status,) in rows]
