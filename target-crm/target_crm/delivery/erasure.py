"""Erasures forwarded to the platforms when a customer is redacted (README "Privacy requests").

A redaction replaces the customer's personal data in the store; the platforms hold copies
too. Before the store forgets them, one erasure per platform user is queued in the outbox
(entity `erasure`) with the one value the platform needs to find that user: MoEngage's user
id (every id the contact was ever sent under), Ometria's email. The engine sends them like
everything else, exactly once; the value is cleared as soon as the platform took the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from target_runtime.delivery.items import PENDING, SENT

from target_crm import schema as t
from target_crm.delivery import common

ERASURE = "erasure"  # the outbox entity and the item group of erasures
_de = t.delivery_erasures.c
_ob = t.outbox.c


def _sent_to(conn: Connection, shop: str, customer_id: int) -> set[str]:
    """Destinations that hold this contact: it was sent there (or may have been)."""
    key = f"{shop}:{customer_id}"
    return set(
        conn.scalars(
            sa.select(_ob.destination)
            .where(
                _ob.entity == "contact",
                _ob.entity_key == key,
                _ob.status.in_((SENT, "in_doubt")),
            )
            .distinct()
        )
    )


def _platform_ids(conn: Connection, destination: str, shop: str, customer_id: int) -> list[str]:
    di = t.delivery_identities.c
    row = conn.execute(
        sa.select(di.platform_user_id, di.previous_user_id).where(
            di.destination == destination, di.shop_domain == shop, di.customer_id == customer_id
        )
    ).first()
    if row is None:
        return []
    return [v for v in (row.platform_user_id, row.previous_user_id) if v]


def _identities(
    conn: Connection, destination: str, shop: str, customer_id: int, email: str | None
) -> list[str]:
    """What the platform finds the user by: MoEngage's user ids, Ometria's email."""
    if destination == "moengage":
        return _platform_ids(conn, destination, shop, customer_id)
    return [email] if email else []


def queue_erasures(
    conn: Connection,
    shop: str,
    customers: Iterable[tuple[int, str | None]],
    request_id: str,
    now: datetime,
) -> int:
    """Queue one erasure per platform user of each customer, before the store is redacted.

    Args:
        conn: The redaction's transaction.
        shop: The shop.
        customers: (customer id, email as the store holds it before the redaction).
        request_id: The privacy request.
        now: When.

    Returns:
        How many erasures were queued (an erasure queued before is not queued again).
    """
    queued = 0
    for customer_id, email in customers:
        for destination in sorted(_sent_to(conn, shop, customer_id)):
            for n, value in enumerate(
                _identities(conn, destination, shop, customer_id, email), start=1
            ):
                key = f"{shop}:{customer_id}:{request_id}:{n}"
                exists = conn.execute(
                    sa.select(_de.erasure_key).where(
                        _de.destination == destination, _de.erasure_key == key
                    )
                ).first()
                if exists is not None:
                    continue
                conn.execute(
                    sa.insert(t.delivery_erasures).values(
                        destination=destination,
                        erasure_key=key,
                        shop_domain=shop,
                        customer_id=customer_id,
                        request_id=request_id,
                        identity_value=value,
                        queued_at=now,
                    )
                )
                common.enqueue(conn, destination, ERASURE, key, shop, PENDING, now)
                queued += 1
    return queued


def load_erasures(conn: Connection, destination: str, keys: Sequence[str]) -> dict[str, object]:
    """Queued erasures by key."""
    found: dict[str, object] = {}
    for start in range(0, len(keys), 500):
        stmt = sa.select(t.delivery_erasures).where(
            _de.destination == destination, _de.erasure_key.in_(keys[start : start + 500])
        )
        found.update({row.erasure_key: row for row in conn.execute(stmt)})
    return found


def settle_sent(
    conn: Connection, destination: str, keys: Sequence[str], now: datetime, reference: str | None
) -> None:
    """The platform took these erasures: forget the value they carried."""
    if not keys:
        return
    conn.execute(
        sa.update(t.delivery_erasures)
        .where(_de.destination == destination, _de.erasure_key.in_(keys))
        .values(identity_value=None, sent_at=now, platform_reference=reference)
    )


def redacted_contacts(conn: Connection, keys: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Contacts whose personal data was redacted: never sent again (MoEngage would recreate
    a deleted user from any later data, Ometria a contact)."""
    table = t.metadata.tables.get("crm_redacted_customers")
    wanted = sorted(set(keys))
    if table is None or not wanted:
        return set()
    found: set[tuple[str, int]] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            sa.select(table.c.shop_domain, table.c.customer_id).where(
                table.c.customer_id.in_([cid for _, cid in chunk])
            )
        )
        found.update((r.shop_domain, r.customer_id) for r in rows)
    return found & set(wanted)
