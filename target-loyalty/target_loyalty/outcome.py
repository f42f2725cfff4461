"""Per-run stream counts, the tap's manifest, and the checks a run ends with.

Counts are written inside each batch's transaction, so what a run reports it did is
exactly what it committed; the manifest rows are kept as the tap sent them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from target_runtime.quarantine import dead_letter_row

from target_loyalty import schema as s
from target_loyalty.domain.reconciliation import (
    Check,
    ManifestPart,
    RunStatus,
    StreamTally,
    reconcile,
)
from target_loyalty.records import Manifest
from target_loyalty.storage import upsert

if TYPE_CHECKING:
    from target_runtime.singer_input import DeadLetter

SKIPPED = "skipped:"
#: Run-count measures of privacy request outcomes: ``privacy:<kind>:<outcome>``.
PRIVACY = "privacy:"


def add_counts(
    conn: Connection, run_id: str, shop: str, stream: str, counts: Mapping[str, int]
) -> None:
    """Add to this run's counters for one stream (``received``, ``skipped:<reason>``, ...)."""
    rows = [
        {"run_id": run_id, "shop_domain": shop, "stream": stream, "measure": m, "count": n}
        for m, n in sorted(counts.items())
        if n
    ]
    if not rows:
        return
    table = s.run_counts
    stmt = upsert(conn, table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["run_id", "shop_domain", "stream", "measure"],
            set_={"count": table.c["count"] + stmt.excluded["count"]},
        ),
        rows,
    )


def store_dead_letter(conn: Connection, run_id: str, letter: DeadLetter, now: datetime) -> None:
    """Keep one input line that was not a valid Singer message, with the reason."""
    row = dead_letter_row(letter, reason_chars=2000)
    conn.execute(sa.insert(s.dead_letters).values(run_id=run_id, recorded_at=now, **row))


def store_manifest(
    conn: Connection, run_id: str, shop: str, rows: Sequence[Manifest], now: datetime
) -> None:
    """Keep the tap's manifest rows, keyed by shop, tap run, stream and part."""
    if not rows:
        return
    values = [
        {
            "shop_domain": shop,
            "tap_run_id": m.tap_run_id,
            "stream": m.part.stream,
            "part": m.part.part,
            "selection": m.selection,
            "window_start": m.window_start,
            "window_end": m.window_end,
            "shopify_count_before": m.part.shopify_count_before,
            "shopify_count_after": m.part.shopify_count_after,
            "emitted": m.part.emitted,
            "excluded": json.dumps(dict(m.part.excluded), sort_keys=True),
            "started_at": m.started_at,
            "finished_at": m.finished_at,
            "target_run_id": run_id,
            "recorded_at": now,
        }
        for m in rows
    ]
    stmt = upsert(conn, s.sync_manifest)
    keys = {"shop_domain", "tap_run_id", "stream", "part"}
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=sorted(keys),
            set_={c: stmt.excluded[c] for c in values[0] if c not in keys},
        ),
        values,
    )


def run_manifest(conn: Connection, run_id: str, shop: str) -> list[ManifestPart]:
    """The manifest rows this run received for the shop."""
    m = s.sync_manifest
    query = (
        sa.select(m)
        .where(m.c.shop_domain == shop, m.c.target_run_id == run_id)
        .order_by(m.c.stream, m.c.part, m.c.tap_run_id)
    )
    return [
        ManifestPart(
            stream=row.stream,
            part=row.part,
            shopify_count_before=row.shopify_count_before,
            shopify_count_after=row.shopify_count_after,
            emitted=row.emitted,
            excluded=json.loads(row.excluded),
        )
        for row in conn.execute(query)
    ]


def run_tallies(conn: Connection, run_id: str, shop: str) -> dict[str, StreamTally]:
    """What this run did, per stream, from its counters."""
    c = s.run_counts
    query = sa.select(c.c.stream, c.c.measure, c.c["count"]).where(
        c.c.run_id == run_id, c.c.shop_domain == shop
    )
    measures: dict[str, dict[str, int]] = defaultdict(dict)
    for stream, measure, count in conn.execute(query):
        measures[stream][measure] = int(count)
    return {stream: _tally(stream, values) for stream, values in measures.items()}


def _tally(stream: str, values: Mapping[str, int]) -> StreamTally:
    return StreamTally(
        stream=stream,
        received=values.get("received", 0),
        applied=values.get("applied", 0),
        quarantined=values.get("quarantined", 0),
        skipped={k.removeprefix(SKIPPED): v for k, v in values.items() if k.startswith(SKIPPED)},
    )


def settle(
    conn: Connection, run_id: str, shop: str, extra: Iterable[Check] = ()
) -> tuple[RunStatus, list[Check]]:
    """Reconcile the run for one shop and store its checks and the manifest's numbers.

    Args:
        conn: The closing transaction.
        run_id: This target run.
        shop: The shop.
        extra: Further checks (the roster's); a failing one makes the run unreconciled.

    Returns:
        The run's status and every check.
    """
    parts = run_manifest(conn, run_id, shop)
    status, checks = reconcile(parts, run_tallies(conn, run_id, shop))
    checks.extend(extra)
    if status is RunStatus.SUCCEEDED and any(c.status.value == "FAIL" for c in checks):
        status = RunStatus.UNRECONCILED
    for stream in {p.stream for p in parts}:
        mine = [p for p in parts if p.stream == stream]
        add_counts(conn, run_id, shop, stream, _manifest_measures(mine))
    rows = [
        {
            "run_id": run_id,
            "shop_domain": shop,
            "stream": c.stream,
            "check_name": c.name,
            "status": c.status.value,
            "detail": c.detail,
        }
        for c in checks
    ]
    conn.execute(
        sa.delete(s.run_checks).where(
            s.run_checks.c.run_id == run_id, s.run_checks.c.shop_domain == shop
        )
    )
    if rows:
        conn.execute(sa.insert(s.run_checks), rows)
    return status, checks


def _manifest_measures(parts: Sequence[ManifestPart]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in parts:
        out["emitted"] += p.emitted
        out["shopify_count_before"] += p.shopify_count_before
        out["shopify_count_after"] += p.shopify_count_after
        for reason, n in p.excluded.items():
            out[f"excluded:{reason}"] += n
    return out


def report_rows(conn: Connection, run_id: str, shop: str) -> dict[str, Any]:
    """Per-stream counts, checks and dead letters of one run, for the report."""
    c, k, d = s.run_counts, s.run_checks, s.dead_letters
    streams: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"received": 0, "applied": 0, "quarantined": 0, "skipped": {}, "excluded": {}}
    )
    for stream, measure, count in conn.execute(
        sa.select(c.c.stream, c.c.measure, c.c["count"]).where(
            c.c.run_id == run_id, c.c.shop_domain == shop
        )
    ):
        row = streams[stream]
        if measure.startswith(SKIPPED):
            row["skipped"][measure.removeprefix(SKIPPED)] = int(count)
        elif measure.startswith("excluded:"):
            row["excluded"][measure.removeprefix("excluded:")] = int(count)
        elif measure.startswith(PRIVACY):
            # privacy:<kind>:<outcome> -> {"<kind>": {"<outcome>": n}}
            kind, _, result = measure.removeprefix(PRIVACY).partition(":")
            row.setdefault("privacy", {}).setdefault(kind, {})[result] = int(count)
        else:
            row[measure] = int(count)
    checks = [
        {"stream": st, "check": name, "status": status, "detail": detail}
        for st, name, status, detail in conn.execute(
            sa.select(k.c.stream, k.c.check_name, k.c.status, k.c.detail)
            .where(k.c.run_id == run_id, k.c.shop_domain == shop)
            .order_by(k.c.stream, k.c.check_name)
        )
    ]
    letters = conn.execute(
        sa.select(sa.func.count()).select_from(d).where(d.c.run_id == run_id)
    ).scalar()
    return {
        "streams": {name: streams[name] for name in sorted(streams)},
        "checks": checks,
        "dead_letters": int(letters or 0),
    }
