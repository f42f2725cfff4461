"""The outbox state machine in the CRM store (SQLAlchemy Core, one short transaction each)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from target_runtime.delivery.items import (
    IN_DOUBT,
    PENDING,
    SCHEDULED,
    SENDING,
    SENT,
    Item,
    OutboxRow,
)

from target_crm import schema as t
from target_crm.delivery import common, erasure
from target_crm.delivery.erasure import ERASURE

_ob = t.outbox.c


def _key(destination: str, row: OutboxRow) -> dict[str, str]:
    return {"d": destination, "e": row.entity, "k": row.entity_key}


def pending(engine: Engine, destination: str, limit: int) -> list[OutboxRow]:
    """The next pending rows of a destination: contacts first, then events in time order."""
    ev = t.events.c
    stmt = (
        sa.select(_ob.entity, _ob.entity_key, _ob.shop_domain, _ob.attempts, _ob.sent_hash)
        .select_from(t.outbox.outerjoin(t.events, ev.event_id == _ob.entity_key))
        .where(_ob.destination == destination, _ob.status == PENDING)
        # Contacts before the events that need their profile; events by Shopify time.
        .order_by(_ob.entity, ev.occurred_at, _ob.entity_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [OutboxRow(*row) for row in conn.execute(stmt)]


def _update(engine: Engine, destination: str, rows: Iterable[OutboxRow], **values: object) -> None:
    keys = [_key(destination, r) for r in rows]
    if not keys:
        return
    stmt = (
        sa.update(t.outbox)
        .where(
            _ob.destination == sa.bindparam("d"),
            _ob.entity == sa.bindparam("e"),
            _ob.entity_key == sa.bindparam("k"),
        )
        .values(**values)
    )
    with engine.begin() as conn:
        conn.execute(stmt, keys)


def settle_local(engine: Engine, destination: str, items: Sequence[Item], run_id: str) -> None:
    """Record outcomes decided without a request (refused locally, outside retention...)."""
    by_outcome: dict[tuple[str, str | None], list[OutboxRow]] = {}
    for item in items:
        assert item.outcome is not None
        by_outcome.setdefault((item.outcome, item.reason), []).append(item.row)
    for (outcome, reason), rows in by_outcome.items():
        _update(engine, destination, rows, status=outcome, last_error=reason, run_id=run_id)


def start_request(  # noqa: PLR0917 (one call site, all named in the docstring)
    engine: Engine,
    destination: str,
    request_id: str,
    run_id: str,
    items: Sequence[Item],
    size: int,
    now: datetime,
) -> None:
    """Mark a request's rows `sending` and record the request, before anything goes out."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.delivery_requests).values(
                request_id=request_id,
                destination=destination,
                run_id=run_id,
                status=SENDING,
                attempts=0,
                lost_answers=0,
                items=len(items),
                bytes=size,
                started_at=now,
            )
        )
        conn.execute(
            sa.update(t.outbox)
            .where(
                _ob.destination == destination,
                _ob.entity == sa.bindparam("e"),
                _ob.entity_key == sa.bindparam("k"),
            )
            .values(
                status=SENDING, request_id=request_id, run_id=run_id, attempts=_ob.attempts + 1
            ),
            [{"e": i.row.entity, "k": i.row.entity_key} for i in items],
        )


def finish_request(
    engine: Engine,
    request_id: str,
    status: str,
    *,
    row_status: str,
    attempts: int,
    http_status: int | None,
    answer: str | None,
    now: datetime,
    hashes: dict[tuple[str, str], str] | None = None,
    lost_answers: int = 0,
    identities: Sequence[Identity] = (),
    merge_delay_seconds: float | None = None,
) -> None:
    """Record a request's end and move its rows to `row_status` in one transaction.

    `identities` are the (shop, customer id, platform user id) of the contacts a sent
    request carried: recorded in the same transaction (see `record_identities`).
    """
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.delivery_requests)
            .where(t.delivery_requests.c.request_id == request_id)
            .values(
                status=status,
                attempts=attempts,
                http_status=http_status,
                answer=answer,
                finished_at=now,
                lost_answers=lost_answers,
            )
        )
        values: dict[str, object] = {"status": row_status, "last_error": None}
        if row_status == SENT:
            values["sent_at"] = now
        else:
            values["last_error"] = answer
        conn.execute(sa.update(t.outbox).where(_ob.request_id == request_id).values(**values))
        if hashes:
            # The destination makes each row's lookup a primary-key one: without it every
            # row of a request scanned the whole outbox (quadratic on a large store).
            destination = conn.execute(
                sa.select(t.delivery_requests.c.destination).where(
                    t.delivery_requests.c.request_id == request_id
                )
            ).scalar_one()
            conn.execute(
                sa.update(t.outbox)
                .where(
                    _ob.destination == destination,
                    _ob.request_id == request_id,
                    _ob.entity == sa.bindparam("e"),
                    _ob.entity_key == sa.bindparam("k"),
                )
                .values(sent_hash=sa.bindparam("h")),
                [{"e": e, "k": k, "h": h} for (e, k), h in hashes.items()],
            )
        if row_status == SENT:
            _settle_erasures(conn, request_id, answer, now)
        if identities:
            request = conn.execute(
                sa.select(t.delivery_requests.c.destination, t.delivery_requests.c.run_id).where(
                    t.delivery_requests.c.request_id == request_id
                )
            ).one()
            record_identities(
                conn,
                request.destination,
                request.run_id,
                identities,
                now,
                merge_delay_seconds=merge_delay_seconds,
            )


def _settle_erasures(conn: Connection, request_id: str, answer: str | None, now: datetime) -> None:
    """Erasures this request carried were taken: their values are forgotten at once."""
    keys = list(
        conn.scalars(
            sa.select(_ob.entity_key).where(_ob.request_id == request_id, _ob.entity == ERASURE)
        )
    )
    if not keys:
        return
    destination = conn.execute(
        sa.select(t.delivery_requests.c.destination).where(
            t.delivery_requests.c.request_id == request_id
        )
    ).scalar_one()
    reference = None
    try:
        body = json.loads(answer or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("id") is not None:
        reference = str(body["id"])[:255]  # Ometria's data-deletion request id
    erasure.settle_sent(conn, destination, keys, now, reference)


Identity = tuple[str, int, str]  # (shop, customer id, the platform's user id)


def merge_key(shop: str, customer_id: int, merged_user: str, retained_user: str) -> str:
    """A merge's outbox key: the contact and a digest of the pair (never the ids themselves)."""
    pair = hashlib.sha256(f"{merged_user}\x00{retained_user}".encode()).hexdigest()[:16]
    return f"{shop}:{customer_id}:{pair}"


def record_identities(
    conn: Connection,
    destination: str,
    run_id: str,
    identities: Sequence[Identity],
    now: datetime,
    *,
    merge_delay_seconds: float | None,
) -> int:
    """Remember the user id each contact was sent under; a change leaves an old user behind.

    A contact first sent under one id and now under another is recorded as changed (the
    report counts it). When the destination merges users (`merge_delay_seconds` set), a
    merge of the old user into the new one is scheduled for `now + merge_delay_seconds`,
    once: the same pair is never merged twice.

    Returns:
        How many contacts changed user id.
    """
    di = t.delivery_identities.c
    shops = {shop for shop, _, _ in identities}
    ids = [cid for _, cid, _ in identities]
    known: dict[tuple[str, int], str] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(di.shop_domain, di.customer_id, di.platform_user_id).where(
                di.destination == destination,
                di.shop_domain.in_(shops),
                di.customer_id.in_(ids[start : start + 500]),
            )
        )
        known.update({(r.shop_domain, r.customer_id): r.platform_user_id for r in rows})
    changed = 0
    for shop, customer_id, user in identities:
        before = known.get((shop, customer_id))
        if before == user:
            continue
        known[(shop, customer_id)] = user
        if before is None:
            conn.execute(
                sa.insert(t.delivery_identities).values(
                    destination=destination,
                    shop_domain=shop,
                    customer_id=customer_id,
                    platform_user_id=user,
                    first_sent_at=now,
                )
            )
            continue
        changed += 1
        conn.execute(
            sa.update(t.delivery_identities)
            .where(
                di.destination == destination,
                di.shop_domain == shop,
                di.customer_id == customer_id,
            )
            .values(
                platform_user_id=user,
                previous_user_id=before,
                changed_at=now,
                changed_run_id=run_id,
            )
        )
        if merge_delay_seconds is not None:
            _schedule_merge(
                conn, destination, (shop, customer_id), before, user, now, merge_delay_seconds
            )
    return changed


def _schedule_merge(  # noqa: PLR0917
    conn: Connection,
    destination: str,
    contact: tuple[str, int],
    merged_user: str,
    retained_user: str,
    now: datetime,
    delay_seconds: float,
) -> None:
    shop, customer_id = contact
    key = merge_key(shop, customer_id, merged_user, retained_user)
    dm = t.delivery_merges.c
    exists = conn.execute(
        sa.select(dm.merge_key).where(dm.destination == destination, dm.merge_key == key)
    ).first()
    if exists is not None:
        return
    conn.execute(
        sa.insert(t.delivery_merges).values(
            destination=destination,
            merge_key=key,
            shop_domain=shop,
            customer_id=customer_id,
            merged_user=merged_user,
            retained_user=retained_user,
            scheduled_at=now,
            due_at=now + timedelta(seconds=delay_seconds),
        )
    )
    common.enqueue(conn, destination, "merge", key, shop, SCHEDULED, now)


def release_due(engine: Engine, destination: str, now: datetime) -> int:
    """Scheduled rows whose time has come become pending.

    Returns:
        How many were released.
    """
    dm = t.delivery_merges.c
    due = sa.select(dm.merge_key).where(dm.destination == destination, dm.due_at <= now)
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(t.outbox)
            .where(
                _ob.destination == destination,
                _ob.entity == "merge",
                _ob.status == SCHEDULED,
                _ob.entity_key.in_(due),
            )
            .values(status=PENDING)
        )
    return max(result.rowcount or 0, 0)


def recover(engine: Engine, destination: str, *, resend: bool, now: datetime) -> int:
    """Requests left `sending` by a crash are in doubt: re-queued when safe, else parked.

    Args:
        engine: The store.
        destination: The destination.
        resend: Whether the platform is idempotent (or the setting allows a re-send).
        now: The clock.

    Returns:
        How many requests were in doubt (at most one, as requests go out one at a time).
    """
    dr = t.delivery_requests.c
    with engine.begin() as conn:
        stuck = list(
            conn.execute(
                sa.select(dr.request_id).where(dr.destination == destination, dr.status == SENDING)
            ).scalars()
        )
        for request_id in stuck:
            conn.execute(
                sa.update(t.delivery_requests)
                .where(dr.request_id == request_id)
                .values(
                    status=IN_DOUBT,
                    answer="interrupted before its answer was recorded",
                    finished_at=now,
                )
            )
            conn.execute(
                sa.update(t.outbox)
                .where(_ob.request_id == request_id, _ob.status == SENDING)
                .values(
                    status=PENDING if resend else IN_DOUBT,
                    last_error="in doubt: re-sent" if resend else "in doubt: not re-sent",
                )
            )
        # A profile update is an upsert on every platform: sending it twice changes nothing,
        # so in-doubt contacts are always queued again (only events can duplicate).
        conn.execute(
            sa.update(t.outbox)
            .where(
                _ob.destination == destination,
                _ob.entity == "contact",
                _ob.status == IN_DOUBT,
            )
            .values(status=PENDING, last_error="in doubt: re-sent (profile upsert)")
        )
    return len(stuck)


def backfill(engine: Engine, destination: str, now: datetime) -> int:
    """Queue what the store holds but the destination's outbox has never seen.

    A destination switched on after the store was loaded (or a store that queued for no
    destination) still receives every active contact and every event, once: rows that
    exist in any state are left alone.

    Returns:
        How many rows were queued.
    """
    queued = 0
    c, ev = t.contacts.c, t.events.c
    contact_key = c.shop_domain + sa.literal(":") + sa.cast(c.customer_id, sa.String)
    sources = [
        (
            "contact",
            sa.select(contact_key, c.shop_domain).where(
                c.status == "active",
                ~sa.exists().where(
                    _ob.destination == destination,
                    _ob.entity == "contact",
                    _ob.entity_key == contact_key,
                ),
            ),
        ),
        (
            "event",
            sa.select(ev.event_id, ev.shop_domain).where(
                ~sa.exists().where(
                    _ob.destination == destination,
                    _ob.entity == "event",
                    _ob.entity_key == ev.event_id,
                )
            ),
        ),
    ]
    with engine.begin() as conn:
        for entity, select in sources:
            rows = select.add_columns(
                sa.literal(destination).label("destination"),
                sa.literal(entity).label("entity"),
                sa.literal(PENDING).label("status"),
                sa.literal(0).label("attempts"),
                sa.literal(now, t.outbox.c.enqueued_at.type).label("enqueued_at"),
            )
            result = conn.execute(
                sa.insert(t.outbox).from_select(
                    [
                        "entity_key",
                        "shop_domain",
                        "destination",
                        "entity",
                        "status",
                        "attempts",
                        "enqueued_at",
                    ],
                    rows,
                )
            )
            queued += max(result.rowcount or 0, 0)
    return queued
