"""Roster reconciliation in the store: deleted and merged customers (SQLAlchemy Core)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.domain.models import ContactStatus, CrmRules
from target_crm.domain.roster import MERGED, Departure, classify_departures
from target_crm.runs import StatKey, load_cutovers
from target_crm.storage import enqueue, insert_events, move_contact, refresh_aggregates, upsert


def save_roster(conn: Connection, entries: set[tuple[str, int]], run_id: str) -> None:
    """Remember that this run's roster lists these (shop, customer id) pairs."""
    rows = [{"shop_domain": s, "customer_id": c, "run_id": run_id} for s, c in sorted(entries)]
    upsert(conn, t.roster_seen, rows, update=["run_id"])


def _missing(conn: Connection, shop: str, run_id: str) -> list[int]:
    listed = sa.select(t.roster_seen.c.customer_id).where(
        t.roster_seen.c.shop_domain == shop, t.roster_seen.c.run_id == run_id
    )
    query = sa.select(t.contacts.c.customer_id).where(
        t.contacts.c.shop_domain == shop,
        t.contacts.c.status == ContactStatus.ACTIVE.value,
        t.contacts.c.customer_id.not_in(listed),
    )
    return list(conn.scalars(query))


def _moves(conn: Connection, shop: str, missing: list[int]) -> dict[int, int]:
    moves: dict[int, int] = {}
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        query = (
            sa.select(t.orders.c.previous_customer_id, t.orders.c.customer_id)
            .where(t.orders.c.shop_domain == shop, t.orders.c.previous_customer_id.in_(chunk))
            .order_by(t.orders.c.updated_at)
        )
        for old, new in conn.execute(query):
            if new is not None and new != old:
                moves[old] = new
    return moves


def _fold(conn: Connection, d: Departure, now: datetime) -> None:
    contact = (t.contacts.c.shop_domain == d.shop_domain) & (
        t.contacts.c.customer_id == d.customer_id
    )
    if d.fate == MERGED and d.merged_into is not None:
        values = {"status": ContactStatus.MERGED.value, "merged_into": d.merged_into}
        move_contact(conn, d.shop_domain, d.customer_id, d.merged_into)
    else:
        values = {"status": ContactStatus.DELETED.value, "deleted_at": now}
    conn.execute(t.contacts.update().where(contact).values(updated_in_store_at=now, **values))


def reconcile_roster(
    conn: Connection,
    *,
    run_id: str,
    rules: CrmRules,
    now: datetime,
    destinations: list[str],
) -> Counter[StatKey]:
    """Mark contacts missing from this run's roster as deleted or merged (seed 002/003).

    Only shops that have roster entries in this run are reconciled: a shop with no entry
    could be a roster that did not run, and deleting on an absent roster would be wrong.

    Returns:
        Statistics: departures per shop and fate.
    """
    stats: Counter[StatKey] = Counter()
    shops = list(
        conn.scalars(
            sa.select(t.roster_seen.c.shop_domain)
            .where(t.roster_seen.c.run_id == run_id)
            .distinct()
        )
    )
    cutovers = load_cutovers(conn, shops)
    for shop in shops:
        missing = _missing(conn, shop, run_id)
        departures = classify_departures(
            shop, missing, _moves(conn, shop, missing), rules=rules, now=now, cutover=cutovers[shop]
        )
        for d in departures:
            _fold(conn, d, now)
            stats[(shop, "customer_roster", d.fate, "absent_from_roster")] += 1
        inserted = insert_events(conn, [d.event for d in departures], run_id)
        for e in inserted:
            stats[(shop, "events", "created", e.kind)] += 1
        touched = {(shop, d.customer_id) for d in departures}
        touched |= {(shop, d.merged_into) for d in departures if d.merged_into is not None}
        refresh_aggregates(conn, touched)
        enqueue(conn, destinations, "event", [(e.shop_domain, e.event_id) for e in inserted], now)
        enqueue(conn, destinations, "contact", [(s, f"{s}:{c}") for s, c in touched], now)
    return stats
