"""Reading what adapters send from the CRM store: contacts, events and order times."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from target_runtime.delivery.items import OutboxRow

from target_crm import schema as t


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def load_contacts(conn: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Any]:
    """Contact rows by (shop, customer id)."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, int], Any] = {}
    c = t.contacts.c
    for chunk in _chunks(wanted):
        ids = [k[1] for k in chunk]
        for row in conn.execute(sa.select(t.contacts).where(c.customer_id.in_(ids))):
            found[(row.shop_domain, row.customer_id)] = row
    return found


def load_events(conn: Connection, rows: Sequence[OutboxRow]) -> dict[str, Any]:
    """Event rows by event id."""
    ids = [r.entity_key for r in rows if r.entity == "event"]
    found: dict[str, Any] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(sa.select(t.events).where(t.events.c.event_id.in_(chunk))):
            found[row.event_id] = row
    return found


def load_merges(conn: Connection, destination: str, rows: Sequence[OutboxRow]) -> dict[str, Any]:
    """Scheduled user merges by merge key."""
    keys = [r.entity_key for r in rows]
    found: dict[str, Any] = {}
    dm = t.delivery_merges.c
    for chunk in _chunks(keys):
        stmt = sa.select(t.delivery_merges).where(
            dm.destination == destination, dm.merge_key.in_(chunk)
        )
        found.update({row.merge_key: row for row in conn.execute(stmt)})
    return found


def load_order_times(
    conn: Connection, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], Any]:
    """Order rows (placed time, status) by (shop, order id)."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, int], Any] = {}
    o = t.orders.c
    for chunk in _chunks(wanted):
        ids = [k[1] for k in chunk]
        for row in conn.execute(sa.select(t.orders).where(o.order_id.in_(ids))):
            found[(row.shop_domain, row.order_id)] = row
    return found


def contact_key(row: OutboxRow) -> tuple[str, int]:
    """(shop, customer id) of a contact outbox row (`<shop>:<id>`)."""
    shop, _, customer = row.entity_key.rpartition(":")
    return shop, int(customer)


def needs_send(row: OutboxRow, digest: str) -> bool:
    """A contact whose payload equals the one last sent is not sent again."""
    return row.sent_hash != digest


def enqueue(  # noqa: PLR0917
    conn: Connection, destination: str, entity: str, key: str, shop: str, status: str, now: Any
) -> None:
    """Add one outbox row (a merge or an erasure the engine will send like any other)."""
    conn.execute(
        sa.insert(t.outbox).values(
            destination=destination,
            entity=entity,
            entity_key=key,
            shop_domain=shop,
            status=status,
            attempts=0,
            enqueued_at=now,
        )
    )
