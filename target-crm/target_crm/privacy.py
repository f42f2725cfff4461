"""Privacy requests in the store: redaction, deletion, export, audit (SQLAlchemy Core).

README "Privacy requests" states the rules. Redaction replaces the contact's own columns
with placeholders that do not derive from the data, then scans every other table's text and
JSON columns for the contact's personal values (email, phone, names) and replaces them, so a
table added later is covered without a list to keep up to date.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.delivery import erasure
from target_crm.domain.identity import normalize_phone
from target_crm.domain.models import ContactStatus
from target_crm.domain.privacy import (
    ALREADY_APPLIED,
    APPLIED,
    EXPORTED,
    NO_MATCH,
    REDACTED_TEXT,
    Kind,
    PrivacyRequest,
    redacted_email,
    scrub,
    scrub_text,
)

privacy_requests = sa.Table(
    "crm_privacy_requests",
    t.metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("customer_id", sa.BigInteger),
    sa.Column("requested_at", t.UtcDateTime, nullable=False),
    sa.Column("applied_at", t.UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("export_path", sa.Text),
    sa.Column("run_id", sa.String(64), nullable=False),
)

# The customers whose personal data was redacted: a later record for one of them is stored
# redacted ("redaction wins over re-sync").
redacted_customers = sa.Table(
    "crm_redacted_customers",
    t.metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("redacted_at", t.UtcDateTime, nullable=False),
)

# delivery_erasures holds the one copy of a platform id an erasure needs until it is sent
# (target_crm.delivery.erasure clears it then).
_OWN_TABLES = frozenset(
    {"contacts", "crm_privacy_requests", "crm_redacted_customers", "delivery_erasures"}
)
_PERSONAL = ("email", "email_normalized", "phone", "phone_normalized", "first_name", "last_name")


def _contact_where(shop: str, ids: Iterable[int]) -> Any:
    return (t.contacts.c.shop_domain == shop) & t.contacts.c.customer_id.in_(list(ids))


def match(conn: Connection, request: PrivacyRequest) -> list[int]:
    """The customer ids a customer request names: by id, else by email or phone in the shop.

    Args:
        conn: The batch transaction.
        request: The request.

    Returns:
        The matching customer ids (empty: no match).
    """
    c = t.contacts.c
    shop = c.shop_domain == request.shop_domain
    if request.customer_id is not None:
        found = conn.scalars(
            sa.select(c.customer_id).where(shop, c.customer_id == request.customer_id)
        )
        ids = list(found)
        if ids:
            return ids
    wanted = []
    if request.email:
        wanted.append(c.email_normalized == request.email)
    phone = normalize_phone(request.phone) if request.phone else None
    if phone:
        wanted.append(c.phone_normalized == phone)
    if not wanted:
        return []
    return sorted(conn.scalars(sa.select(c.customer_id).where(shop, sa.or_(*wanted))))


def _secrets(
    conn: Connection, shop: str, ids: list[int], request: PrivacyRequest
) -> frozenset[str]:
    values: set[str] = set()
    rows = conn.execute(
        sa.select(*(t.contacts.c[n] for n in _PERSONAL)).where(_contact_where(shop, ids))
    )
    for row in rows:
        m = row._mapping
        values.update(str(m[n]) for n in _PERSONAL if m[n])
        if m["first_name"] and m["last_name"]:
            values.add(f"{m['first_name']} {m['last_name']}")
    values.update(v for v in (request.email, request.phone) if v)
    # Very short values (a one-letter name) would erase unrelated text: they are still
    # replaced in the contact's own row, but not searched for elsewhere.
    return frozenset(v for v in values if len(v) >= 3)


def _earlier_identifiers(conn: Connection, shop: str, ids: list[int]) -> frozenset[str]:
    """Emails and phones the customers had before: an email change leaves the old one in
    earlier events' properties and in the platform user ids it was sent under."""
    values: set[str] = set()
    ev = t.events.c
    for stored in conn.scalars(
        sa.select(ev.properties).where(ev.shop_domain == shop, ev.customer_id.in_(ids))
    ):
        props = json.loads(stored) if isinstance(stored, str) else stored
        if isinstance(props, Mapping):
            values.update(str(props[k]) for k in ("email", "phone") if props.get(k))
    di = t.delivery_identities.c
    for row in conn.execute(
        sa.select(di.platform_user_id, di.previous_user_id).where(
            di.shop_domain == shop, di.customer_id.in_(ids)
        )
    ):
        values.update(v for v in row if v)
    return frozenset(v for v in values if len(v) >= 3)


def _scan(conn: Connection, secrets: frozenset[str], counts: Counter[str]) -> None:
    """Replace the secrets in every other table's text and JSON columns."""
    if not secrets:
        return
    for table in t.metadata.sorted_tables:
        if table.name in _OWN_TABLES:
            continue
        text_cols = [
            col
            for col in table.columns
            if not col.primary_key and isinstance(col.type, sa.String | sa.Text | sa.JSON)
        ]
        if not text_cols or not list(table.primary_key):
            continue
        keys = list(table.primary_key)
        for row in conn.execute(sa.select(*keys, *text_cols)):
            m = row._mapping
            changes: dict[str, Any] = {}
            for col in text_cols:
                value = m[col.name]
                if value is None:
                    continue
                if isinstance(col.type, sa.JSON):
                    new, n = scrub(value, secrets)
                elif isinstance(value, str):
                    new, n = scrub_text(value, secrets)
                else:
                    continue
                if n:
                    changes[col.name] = new
            if changes:
                where = sa.and_(*(k == m[k.name] for k in keys))
                conn.execute(table.update().where(where).values(**changes))
                counts[table.name] += 1


def _redact_contacts(
    conn: Connection, shop: str, ids: list[int], request_id: str, now: datetime
) -> int:
    changed = 0
    for cid in ids:
        placeholder = redacted_email(cid, request_id)
        result = conn.execute(
            t.contacts.update()
            .where(_contact_where(shop, [cid]))
            .where(
                sa.or_(
                    t.contacts.c.email.is_(None),
                    t.contacts.c.email != placeholder,
                    t.contacts.c.first_name.is_not(None),
                    t.contacts.c.last_name.is_not(None),
                    t.contacts.c.phone.is_not(None),
                    t.contacts.c.city.is_not(None),
                )
            )
            .values(
                email=placeholder,
                email_normalized=None,
                phone=None,
                phone_normalized=None,
                first_name=None,
                last_name=None,
                city=None,
                province=None,
                country=None,
                attributes={},
                updated_in_store_at=now,
            )
        )
        changed += result.rowcount or 0
    return changed


def _remember(conn: Connection, shop: str, ids: list[int], request_id: str, now: datetime) -> None:
    known = set(
        conn.scalars(
            sa.select(redacted_customers.c.customer_id).where(
                redacted_customers.c.shop_domain == shop,
                redacted_customers.c.customer_id.in_(ids),
            )
        )
    )
    rows = [
        {"shop_domain": shop, "customer_id": cid, "request_id": request_id, "redacted_at": now}
        for cid in ids
        if cid not in known
    ]
    if rows:
        conn.execute(redacted_customers.insert(), rows)


def cancel_pending(conn: Connection, shop: str, ids: list[int]) -> int:
    """Pending outbox rows of redacted contacts are skipped (reason ``redacted``), not sent.

    A contact's payload is built from the store when it is sent, so a pending row would now
    carry the placeholder: sending it would create a placeholder user on the platform.

    Args:
        conn: The batch transaction.
        shop: The shop.
        ids: The redacted customers.

    Returns:
        How many outbox rows were skipped.
    """
    ob = t.outbox.c
    event_keys = list(
        conn.scalars(
            sa.select(t.events.c.event_id).where(
                t.events.c.shop_domain == shop, t.events.c.customer_id.in_(ids)
            )
        )
    )
    owned = [sa.and_(ob.entity == "contact", ob.entity_key.in_([f"{shop}:{c}" for c in ids]))]
    for start in range(0, len(event_keys), 500):
        chunk = event_keys[start : start + 500]
        owned.append(sa.and_(ob.entity == "event", ob.entity_key.in_(chunk)))
    result = conn.execute(
        t.outbox.update()
        .where(ob.shop_domain == shop, ob.status == "pending", sa.or_(*owned))
        .values(status="skipped", last_error="redacted")
    )
    return int(result.rowcount or 0)


def redact(
    conn: Connection, shop: str, ids: list[int], request: PrivacyRequest, now: datetime
) -> dict[str, int]:
    """Redact the customers' personal data in every table; amounts and counts are kept.

    Args:
        conn: The batch transaction.
        shop: The shop.
        ids: The customers to redact.
        request: The request (its email/phone are searched for too).
        now: When.

    Returns:
        Rows changed per table.
    """
    counts: Counter[str] = Counter()
    secrets = _secrets(conn, shop, ids, request) | _earlier_identifiers(conn, shop, ids)
    # Before the store forgets them: the platforms that hold the customer get an erasure.
    emails = conn.execute(
        sa.select(t.contacts.c.customer_id, t.contacts.c.email).where(_contact_where(shop, ids))
    ).all()
    counts["erasures_queued"] += erasure.queue_erasures(
        conn, shop, [(r.customer_id, r.email) for r in emails], request.request_id, now
    )
    counts["contacts"] += _redact_contacts(conn, shop, ids, request.request_id, now)
    _scan(conn, secrets, counts)
    counts["outbox_skipped_redacted"] += cancel_pending(conn, shop, ids)
    _remember(conn, shop, ids, request.request_id, now)
    return {k: v for k, v in sorted(counts.items()) if v}


def redact_on_arrival(
    conn: Connection, keys: Iterable[tuple[str, int]], now: datetime
) -> Counter[str]:
    """Re-redact contacts a batch just stored that a privacy request redacted before.

    Args:
        conn: The batch transaction (after the contacts or orders were written).
        keys: The (shop, customer id) pairs the batch touched.
        now: When.

    Returns:
        Per shop, how many arriving customers were stored redacted.
    """
    by_shop: dict[str, set[int]] = {}
    for shop, cid in keys:
        by_shop.setdefault(shop, set()).add(cid)
    arrived: Counter[str] = Counter()
    for shop, ids in by_shop.items():
        rc = redacted_customers.c
        wanted = sorted(ids)
        found = []
        # Chunked: a batch of customers can name more ids than SQLite binds at once.
        for start in range(0, len(wanted), 900):
            query = sa.select(rc.customer_id, rc.request_id).where(
                rc.shop_domain == shop, rc.customer_id.in_(wanted[start : start + 900])
            )
            found.extend(conn.execute(query).all())
        for cid, request_id in found:
            request = PrivacyRequest(
                request_id=request_id,
                kind=Kind.CUSTOMER_REDACT,
                customer_id=cid,
                email=None,
                phone=None,
                order_ids=(),
                data_request_id=None,
                origin="local",
                requested_at=now,
                queue_position=0,
                shop_domain=shop,
            )
            secrets = _secrets(conn, shop, [cid], request)
            _redact_contacts(conn, shop, [cid], request_id, now)
            _scan(conn, secrets, Counter())
            cancel_pending(conn, shop, [cid])
            arrived[shop] += 1
    return arrived


def delete(conn: Connection, shop: str, ids: list[int], now: datetime) -> dict[str, int]:
    """customer_delete: the roster's deletion rule (status deleted, data kept), now.

    Args:
        conn: The batch transaction.
        shop: The shop.
        ids: The customers deleted in Shopify.
        now: When.

    Returns:
        Rows changed per table.
    """
    result = conn.execute(
        t.contacts.update()
        .where(_contact_where(shop, ids), t.contacts.c.status == ContactStatus.ACTIVE.value)
        .values(status=ContactStatus.DELETED.value, deleted_at=now, updated_in_store_at=now)
    )
    return {"contacts": result.rowcount} if result.rowcount else {}


def shop_customers(conn: Connection, shop: str) -> list[int]:
    """Every customer the store holds for a shop."""
    query = sa.select(t.contacts.c.customer_id).where(t.contacts.c.shop_domain == shop)
    return sorted(conn.scalars(query))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)


def export(
    conn: Connection, shop: str, ids: list[int], request: PrivacyRequest, base: Path
) -> tuple[Path, dict[str, int]]:
    """data_request: write every table's rows about the customers as JSON (0600 in 0700).

    Args:
        conn: The batch transaction.
        shop: The shop.
        ids: The customers.
        request: The request (names the file).
        base: ``privacy_export_dir``.

    Returns:
        The file and the rows exported per table.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in t.metadata.sorted_tables:
        if table.name in _OWN_TABLES - {"contacts"} or "shop_domain" not in table.c:
            continue
        owners = [table.c[n] for n in ("customer_id", "contact_customer_id") if n in table.c]
        if not owners:
            continue
        query = sa.select(table).where(
            table.c.shop_domain == shop, sa.or_(*(o.in_(ids) for o in owners))
        )
        rows = [{k: _plain(v) for k, v in r._mapping.items()} for r in conn.execute(query)]
        if rows:
            tables[table.name] = rows
    folder = base / shop
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = folder / f"{request.request_id}.json"
    body = {
        "shop_domain": shop,
        "request_id": request.request_id,
        "data_request_id": request.data_request_id,
        "customer_ids": ids,
        "tables": tables,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle, indent=2, sort_keys=True, default=str)
    os.chmod(path, 0o600)
    return path, {k: len(v) for k, v in tables.items()}


def seen(conn: Connection, shop: str, request_id: str) -> bool:
    """Whether this request was applied before (requests are applied once)."""
    query = sa.select(privacy_requests.c.outcome).where(
        privacy_requests.c.shop_domain == shop, privacy_requests.c.request_id == request_id
    )
    return conn.scalar(query) is not None


def audit(
    conn: Connection,
    request: PrivacyRequest,
    *,
    outcome: str,
    counts: Mapping[str, int],
    now: datetime,
    run_id: str,
    path: Path | None = None,
) -> None:
    """Record the request's outcome; nothing personal (no email, no phone) is stored."""
    conn.execute(
        privacy_requests.insert().values(
            shop_domain=request.shop_domain,
            request_id=request.request_id,
            kind=request.kind,
            customer_id=request.customer_id,
            requested_at=request.requested_at,
            applied_at=now,
            outcome=outcome,
            counts=dict(counts),
            export_path=str(path) if path else None,
            run_id=run_id,
        )
    )


__all__ = [
    "ALREADY_APPLIED",
    "APPLIED",
    "EXPORTED",
    "NO_MATCH",
    "REDACTED_TEXT",
    "audit",
    "cancel_pending",
    "delete",
    "export",
    "match",
    "privacy_requests",
    "redact",
    "redact_on_arrival",
    "redacted_customers",
    "seen",
    "shop_customers",
]
