"""The store's figures behind ``target-crm report --format html``, read with SQLAlchemy Core.

Aggregates per shop (orders and events per month, contacts by status and consent, the run
history) and the records of what the latest run did not apply.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from target_runtime.report_html import month_key

from target_crm import schema as t
from target_crm.storage import create_store

LISTED = 200
HISTORY = 20


def load_store(url: str, shop: str, run_id: str | None) -> dict[str, Any]:
    """Aggregates of one shop's store for the charts, and the records of what was not applied."""
    engine = create_store(url)
    with engine.connect() as conn:
        books = {
            **_monthly(conn, shop),
            "contacts_by_status": _grouped(conn, t.contacts, t.contacts.c.status, shop),
            "email_consent": _grouped(
                conn,
                t.contacts,
                t.contacts.c.email_consent_state,
                shop,
                t.contacts.c.status == "active",
            ),
            "duplicates": _duplicates(conn, shop),
            "history": _history(conn, shop),
            "skipped_records": _rows(conn, t.skipped_records, run_id, t.skipped_records.c.reason),
            "quarantine": _rows(conn, t.quarantine, run_id, t.quarantine.c.id),
        }
    engine.dispose()
    return books


def _monthly(conn: Connection, shop: str) -> dict[str, Any]:
    o, e = t.orders, t.events
    orders: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    # Grouped here, not in SQL: month arithmetic differs between SQLite and PostgreSQL.
    for created_at, value in conn.execute(
        sa.select(o.c.created_at, o.c.net_value).where(o.c.shop_domain == shop, o.c.counts_as_order)
    ):
        month = orders[month_key(created_at) or "-"]
        month[0] += 1
        month[1] += value
    events: dict[str, Counter[str]] = defaultdict(Counter)
    for occurred_at, kind in conn.execute(
        sa.select(e.c.occurred_at, e.c.kind).where(e.c.shop_domain == shop)
    ):
        events[month_key(occurred_at) or "-"][kind] += 1
    return {
        "orders_by_month": {m: tuple(v) for m, v in sorted(orders.items())},
        "events_by_month": {m: dict(v) for m, v in sorted(events.items())},
    }


def _grouped(conn: Connection, table: sa.Table, column: Any, shop: str, *where: Any) -> dict:
    query = (
        sa.select(column, sa.func.count())
        .where(table.c.shop_domain == shop, *where)
        .group_by(column)
    )
    return {str(value or "none"): int(n) for value, n in conn.execute(query)}


def _duplicates(conn: Connection, shop: str) -> list[dict[str, Any]]:
    d, c = t.duplicates, t.contacts
    matched = c.alias("matched")
    query = (
        sa.select(
            d.c.customer_id,
            c.c.first_name,
            c.c.last_name,
            c.c.email,
            d.c.matched_customer_id,
            matched.c.first_name.label("matched_first_name"),
            matched.c.last_name.label("matched_last_name"),
            d.c.rule,
            d.c.policy,
        )
        .select_from(
            d.outerjoin(
                c, (c.c.shop_domain == d.c.shop_domain) & (c.c.customer_id == d.c.customer_id)
            ).outerjoin(
                matched,
                (matched.c.shop_domain == d.c.shop_domain)
                & (matched.c.customer_id == d.c.matched_customer_id),
            )
        )
        .where(d.c.shop_domain == shop)
        .order_by(d.c.detected_at.desc())
        .limit(LISTED)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def _history(conn: Connection, shop: str) -> list[dict[str, Any]]:
    runs, shops, stats = t.sync_runs, t.run_shops, t.run_stats
    touched = sa.select(stats.c.run_id).where(stats.c.shop_domain == shop)
    query = (
        sa.select(runs.c.run_id, runs.c.status, runs.c.started_at, runs.c.finished_at)
        .where(
            runs.c.run_id.in_(touched)
            | runs.c.run_id.in_(sa.select(shops.c.run_id).where(shops.c.shop_domain == shop))
        )
        .order_by(runs.c.started_at.desc())
        .limit(HISTORY)
    )
    history = [dict(row._mapping) for row in conn.execute(query)]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for run_id, stream, outcome, n in conn.execute(
        sa.select(stats.c.run_id, stats.c.stream, stats.c.outcome, sa.func.sum(stats.c["count"]))
        .where(stats.c.shop_domain == shop, stats.c.run_id.in_([r["run_id"] for r in history]))
        .group_by(stats.c.run_id, stats.c.stream, stats.c.outcome)
    ):
        counts[run_id][f"{stream}:{outcome}"] += int(n)
    for run in history:
        run["counts"] = dict(counts[run["run_id"]])
    return history


def _rows(conn: Connection, table: sa.Table, run_id: str | None, order: Any) -> list[dict]:
    if run_id is None:
        return []
    query = sa.select(table).where(table.c.run_id == run_id).order_by(order).limit(5000)
    return [dict(row._mapping) for row in conn.execute(query)]
