"""Events, the delivery outbox, consent audits and duplicate pairs (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.domain.models import ConsentAudit, DuplicatePair, Event
from target_crm.storage import CHUNK, upsert


def insert_events(conn: Connection, new_events: Iterable[Event], run_id: str) -> list[Event]:
    """Insert events whose id the store does not hold yet; return those inserted."""
    unique = {e.event_id: e for e in reversed(list(new_events))}
    ordered = list(unique.values())
    ordered.reverse()  # first version of each id, in feed order
    rows = [
        {
            "event_id": e.event_id,
            "shop_domain": e.shop_domain,
            "kind": e.kind,
            "name": e.name,
            "customer_id": e.customer_id,
            "source_customer_id": e.source_customer_id,
            "order_id": e.order_id,
            "occurred_at": e.occurred_at,
            "source_time": e.source_time,
            "recorded_at": e.recorded_at,
            "triggers_automations": e.triggers_automations,
            "properties": dict(e.properties),
            "run_id": run_id,
        }
        for e in ordered
    ]
    if not rows:
        return []
    # The store tells which ids it did not hold: `ON CONFLICT DO NOTHING RETURNING` probes
    # the primary key per row. A separate `event_id IN (...)` read let PostgreSQL (events
    # never analysed mid-sync, a generic plan after psycopg prepares it) scan the whole,
    # growing table once per chunk: quadratic in the store's size.
    if conn.dialect.name == "sqlite":
        return _insert_new_events_sqlite(conn, ordered, rows)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(t.events)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(t.events.c.event_id)
    )
    inserted: set[str] = set()
    for start in range(0, len(rows), 5000):
        inserted.update(conn.execute(stmt, rows[start : start + 5000]).scalars())
    return [e for e in ordered if e.event_id in inserted]


def _insert_new_events_sqlite(
    conn: Connection, ordered: list[Event], rows: list[dict[str, Any]]
) -> list[Event]:
    # SQLite answers a primary-key `IN (...)` read per 900 ids from the index (no plan to
    # go stale), so the new ids are known first and the rows go in as one executemany.
    ids = [e.event_id for e in ordered]
    held: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        held.update(
            conn.execute(sa.select(t.events.c.event_id).where(t.events.c.event_id.in_(chunk)))
            .scalars()
            .all()
        )
    fresh = [row for row in rows if row["event_id"] not in held]
    upsert(conn, t.events, fresh)
    return [e for e in ordered if e.event_id not in held]


def enqueue(
    conn: Connection,
    destinations: Sequence[str],
    entity: str,
    items: Iterable[tuple[str, str]],
    now: datetime,
) -> None:
    """Mark (shop, key) items pending delivery to each destination (the adapters' outbox)."""
    rows = [
        {
            "destination": d,
            "entity": entity,
            "entity_key": key,
            "shop_domain": shop,
            "status": "pending",
            "attempts": 0,
            "enqueued_at": now,
        }
        for shop, key in items
        for d in destinations
    ]
    # A contact that changed again is pending again; an event is delivered once.
    upsert(conn, t.outbox, rows, update=["status", "enqueued_at"] if entity == "contact" else None)


def save_audits(conn: Connection, audits: Iterable[ConsentAudit], run_id: str) -> None:
    """Write consent audit rows; a replayed change is audited once (deterministic id)."""
    rows = [{**a.__dict__, "run_id": run_id} for a in audits]
    upsert(conn, t.consent_audit, rows)


def save_duplicates(conn: Connection, pairs: Iterable[DuplicatePair]) -> None:
    """Record duplicate pairs with the rule that matched and the policy applied."""
    rows = [{**p.__dict__, "policy": p.policy.value} for p in pairs]
    upsert(conn, t.duplicates, rows)
