"""What delivery did: per destination and run, from the outbox and the request log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from target_runtime.delivery.items import (
    IN_DOUBT,
    OUTSIDE_RETENTION,
    PENDING,
    REJECTED,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
)

from target_crm import schema as t

_ob = t.outbox.c
_dr = t.delivery_requests.c
# Outbox states that still wait for a request: a run ending with any of these is not done.
UNFINISHED = (PENDING, SENDING)


def save_feedback(
    engine: Engine,
    destination: str,
    run_id: str,
    errors: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """Keep the platform's own record errors as read at the end of the run."""
    with engine.begin() as conn:
        fb = t.delivery_feedback
        conn.execute(sa.delete(fb).where(fb.c.run_id == run_id, fb.c.destination == destination))
        if errors:
            conn.execute(
                sa.insert(fb),
                [
                    {
                        "run_id": run_id,
                        "destination": destination,
                        "position": n,
                        "message": message[:2000],
                        "path": path[:2000],
                        "seen_at": now,
                    }
                    for n, (message, path) in enumerate(errors)
                ],
            )


def _platform_counts(answers: Iterable[str | None]) -> tuple[int, int]:
    """Ometria answers `{"accepted": n, "rejected": m}`; MoEngage says nothing per record."""
    accepted = rejected = 0
    for text in answers:
        try:
            body = json.loads(text or "")
        except ValueError:
            continue
        if isinstance(body, dict):
            accepted += int(body.get("accepted", 0) or 0)
            rejected += int(body.get("rejected", 0) or 0)
    return accepted, rejected


def _destination(conn: Connection, destination: str, run_id: str) -> dict[str, Any]:
    by_state: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        sa.select(_ob.status, _ob.last_error, sa.func.count())
        .where(_ob.destination == destination, _ob.run_id == run_id)
        .group_by(_ob.status, _ob.last_error)
    )
    for status, reason, count in rows:
        by_state[status] = by_state.get(status, 0) + int(count)
        if status in (REJECTED, SKIPPED, IN_DOUBT, OUTSIDE_RETENTION):
            bucket = reasons.setdefault(status, {})
            bucket[(reason or "")[:200]] = bucket.get((reason or "")[:200], 0) + int(count)
    waiting = dict(
        conn.execute(
            sa.select(_ob.status, sa.func.count())
            .where(_ob.destination == destination, _ob.status.in_(UNFINISHED))
            .group_by(_ob.status)
        ).all()
    )
    requests = conn.execute(
        sa.select(
            _dr.status,
            _dr["items"].label("carried"),  # `.items` is the collection's method
            _dr.attempts,
            _dr.lost_answers,
            _dr.answer,
        ).where(_dr.destination == destination, _dr.run_id == run_id)
    ).all()
    sent = [r for r in requests if r.status == SENT]
    accepted, platform_rejected = _platform_counts(r.answer for r in sent)
    if destination == "moengage":
        accepted = sum(r.carried for r in sent)  # 200 = accepted for processing, no more
    feedback = conn.execute(
        sa.select(t.delivery_feedback.c.message, t.delivery_feedback.c.path)
        .where(
            t.delivery_feedback.c.destination == destination,
            t.delivery_feedback.c.run_id == run_id,
        )
        .order_by(t.delivery_feedback.c.position)
    ).all()
    di = t.delivery_identities.c
    changed = conn.execute(
        sa.select(sa.func.count()).where(di.destination == destination, di.changed_run_id == run_id)
    ).scalar_one()
    scheduled = conn.execute(
        sa.select(sa.func.count()).where(_ob.destination == destination, _ob.status == SCHEDULED)
    ).scalar_one()
    return {
        "destination": destination,
        "queued": int(sum(waiting.values())),
        # User merges waiting for their time (not a failure: a later run sends them).
        "scheduled": int(scheduled),
        # Contacts now sent under another platform user id than before (an email change).
        "identity_changes": int(changed),
        "requests": len(requests),
        "requests_by_status": _count_by(r.status for r in requests),
        "retries": int(sum(max(r.attempts - 1, 0) for r in requests)),
        "lost_answers": int(sum(r.lost_answers or 0 for r in requests)),
        "sent": int(by_state.get(SENT, 0)),
        "sent_records": int(sum(r.carried for r in sent)),
        "accepted": accepted,
        "platform_rejected": platform_rejected,
        "rejected": int(by_state.get(REJECTED, 0)),
        "skipped": int(by_state.get(SKIPPED, 0)),
        "in_doubt": int(by_state.get(IN_DOUBT, 0)),
        "in_doubt_requests": sum(1 for r in requests if r.status == IN_DOUBT),
        "outside_retention": int(by_state.get(OUTSIDE_RETENTION, 0)),
        "reasons": reasons,
        "feedback": [{"message": m, "path": p} for m, p in feedback],
    }


def _count_by(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def delivery_report(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """One entry per destination the store has an outbox or requests for."""
    names = set(conn.scalars(sa.select(_ob.destination).distinct()))
    names |= set(conn.scalars(sa.select(_dr.destination).distinct()))
    return [_destination(conn, name, run_id) for name in sorted(names)]


def render_delivery(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Plain-text lines of the delivery part of the report."""
    if not entries:
        return []
    lines = [
        "",
        "Delivery:",
        f"  {'destination':<12} {'queued':>7} {'requests':>8} {'sent':>7} {'accepted':>8} "
        f"{'rejected':>8} {'in doubt':>8} {'retention':>9} {'skipped':>7}",
    ]
    for e in entries:
        lines.append(
            f"  {e['destination']:<12} {e['queued']:>7} {e['requests']:>8} {e['sent']:>7} "
            f"{e['accepted']:>8} {e['rejected'] + e['platform_rejected']:>8} "
            f"{e['in_doubt']:>8} {e['outside_retention']:>9} {e['skipped']:>7}"
        )
        for state, reasons in sorted(e["reasons"].items()):
            for reason, count in sorted(reasons.items()):
                lines.append(f"    {state}: {reason or '-'}: {count}")
        if e["lost_answers"]:
            lines.append(f"    answers lost and re-sent: {e['lost_answers']}")
        if e.get("identity_changes"):
            lines.append(f"    contacts whose user id changed: {e['identity_changes']}")
        if e.get("scheduled"):
            lines.append(f"    user merges scheduled for a later run: {e['scheduled']}")
        for fb in e["feedback"]:
            lines.append(f"    platform error: {fb['message']} ({fb['path']})")
    return lines


def summary_line(entry: dict[str, Any]) -> str:
    """One log line per destination at the end of a run."""
    return (
        f"{entry['destination']}: {entry['sent']} sent in {entry['requests']} request(s), "
        f"{entry['accepted']} accepted, {entry['rejected'] + entry['platform_rejected']} "
        f"rejected, {entry['in_doubt']} in doubt, {entry['outside_retention']} outside "
        f"retention, {entry['skipped']} skipped, {entry['queued']} still queued"
        + (f", {entry['scheduled']} merge(s) scheduled" if entry.get("scheduled") else "")
        + (
            f", {entry['identity_changes']} user id change(s)"
            if entry.get("identity_changes")
            else ""
        )
    )
