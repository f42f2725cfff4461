"""Roster reconciliation in the store: deleted and merged customers (SQLAlchemy Core)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from target_runtime.merge import OrderOwnerChange, merged_owner

from target_crm import schema as t
from target_crm.closing import load_manifest
from target_crm.domain.models import ContactStatus, CrmRules
from target_crm.domain.roster import (
    MERGED,
    Departure,
    RosterDecision,
    classify_departures,
    decide_roster,
)
from target_crm.outputs import enqueue, insert_events
from target_crm.runs import StatKey, load_cutovers
from target_crm.storage import move_contact, refresh_aggregates, upsert


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
    """Who kept each missing customer's orders, by the runtime's ``merged_owner`` rule.

    The same rule target-loyalty applies: the customer owning most of the departed one's
    former orders, the lower id on a tie, so the answer does not depend on read order.
    """
    changes: dict[int, list[OrderOwnerChange]] = defaultdict(list)
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        query = sa.select(t.orders.c.previous_customer_id, t.orders.c.customer_id).where(
            t.orders.c.shop_domain == shop, t.orders.c.previous_customer_id.in_(chunk)
        )
        for old, new in conn.execute(query):
            changes[old].append(OrderOwnerChange(old, new))
    owners = {old: merged_owner(old, orders) for old, orders in changes.items()}
    return {old: owner for old, owner in owners.items() if owner is not None}


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


def roster_shops(conn: Connection, run_id: str) -> list[str]:
    """Shops whose roster this run received."""
    query = sa.select(t.roster_seen.c.shop_domain).where(t.roster_seen.c.run_id == run_id)
    return sorted(set(conn.scalars(query.distinct())))


def _live(conn: Connection, shop: str) -> int:
    query = sa.select(sa.func.count()).where(
        t.contacts.c.shop_domain == shop, t.contacts.c.status == ContactStatus.ACTIVE.value
    )
    return int(conn.scalar(query) or 0)


def _last_version(conn: Connection, shop: str) -> int | None:
    query = sa.select(t.roster_versions.c.version).where(t.roster_versions.c.shop_domain == shop)
    return conn.scalar(query)


def gate_roster(
    conn: Connection,
    shop: str,
    *,
    run_id: str,
    received: int,
    version: int | None,
    max_share: Decimal,
) -> tuple[RosterDecision, list[int]]:
    """Decide whether this run's roster of a shop may delete (README "Rules").

    Returns:
        The decision and the live contacts the roster does not list.
    """
    missing = _missing(conn, shop, run_id)
    parts = [p for p in load_manifest(conn, run_id, shop) if p.stream == "customer_roster"]
    decision = decide_roster(
        shop,
        received=received,
        parts=parts,
        version=version,
        last_applied=_last_version(conn, shop),
        departures=len(missing),
        live=_live(conn, shop),
        max_share=max_share,
    )
    return decision, missing


def apply_roster(
    conn: Connection,
    shop: str,
    missing: list[int],
    *,
    run_id: str,
    version: int | None,
    rules: CrmRules,
    now: datetime,
    destinations: list[str],
) -> Counter[StatKey]:
    """Mark a shop's contacts missing from this run's roster deleted or merged (seed 002/003).

    Returns:
        Statistics: departures per fate, events created.
    """
    stats: Counter[StatKey] = Counter()
    cutover = load_cutovers(conn, [shop])[shop]
    departures = classify_departures(
        shop, missing, _moves(conn, shop, missing), rules=rules, now=now, cutover=cutover
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
    row = {"shop_domain": shop, "version": version, "run_id": run_id, "applied_at": now}
    if version is None or (_last_version(conn, shop) or version) <= version:
        upsert(conn, t.roster_versions, [row], update=["version", "run_id", "applied_at"])
    return stats
