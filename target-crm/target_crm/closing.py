"""The end of a run in the store: manifest rows, per-shop outcomes and their checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.domain.reconciliation import Assessment, ManifestPart
from target_crm.storage import upsert


def save_manifest(
    conn: Connection, parts: Iterable[ManifestPart], run_id: str, now: datetime
) -> None:
    """Store the manifest records this run received (a replayed record is stored once)."""
    rows = [
        {
            "target_run_id": run_id,
            "shop_domain": p.shop_domain,
            "tap_run_id": p.run_id,
            "stream": p.stream,
            "part": p.part,
            "selection": p.selection,
            "window_start": p.window_start,
            "window_end": p.window_end,
            "shopify_count_before": p.shopify_count_before,
            "shopify_count_after": p.shopify_count_after,
            "emitted": p.emitted,
            "excluded": dict(p.excluded),
            "started_at": p.started_at,
            "finished_at": p.finished_at,
            "received_at": now,
        }
        for p in parts
    ]
    upsert(conn, t.sync_manifest, rows)


def part_from_row(row: Mapping[str, Any] | sa.RowMapping) -> ManifestPart:
    """Map a `crm_sync_manifest` row to the domain manifest part."""
    return ManifestPart(
        shop_domain=row["shop_domain"],
        run_id=row["tap_run_id"],
        stream=row["stream"],
        part=row["part"],
        selection=row["selection"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        shopify_count_before=int(row["shopify_count_before"]),
        shopify_count_after=int(row["shopify_count_after"]),
        emitted=int(row["emitted"]),
        excluded={str(k): int(v) for k, v in (row["excluded"] or {}).items()},
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def load_manifest(conn: Connection, run_id: str, shop: str) -> list[ManifestPart]:
    """The manifest records this run received for a shop."""
    m = t.sync_manifest
    query = (
        sa.select(m)
        .where(m.c.target_run_id == run_id, m.c.shop_domain == shop)
        .order_by(m.c.stream, m.c.part, m.c.tap_run_id)
    )
    return [part_from_row(r._mapping) for r in conn.execute(query)]


def shop_stats(conn: Connection, run_id: str, shop: str) -> list[tuple[str, str, str, int]]:
    """A shop's statistics in a run: (stream, outcome, reason, count)."""
    s = t.run_stats
    query = sa.select(s.c.stream, s.c.outcome, s.c.reason, s.c["count"]).where(
        s.c.run_id == run_id, s.c.shop_domain == shop
    )
    return [(a, b, c, int(d)) for a, b, c, d in conn.execute(query)]


def run_shops(conn: Connection, run_id: str) -> list[str]:
    """Shops this run received anything for (records or manifest)."""
    stats = sa.select(t.run_stats.c.shop_domain).where(t.run_stats.c.run_id == run_id)
    manifest = sa.select(t.sync_manifest.c.shop_domain).where(
        t.sync_manifest.c.target_run_id == run_id
    )
    shops = set(conn.scalars(stats)) | set(conn.scalars(manifest))
    return sorted(s for s in shops if s != "?")


def save_assessment(
    conn: Connection, run_id: str, shop: str, assessment: Assessment, now: datetime
) -> None:
    """Record a shop's outcome in this run and every check behind it."""
    upsert(
        conn,
        t.run_shops,
        [
            {
                "run_id": run_id,
                "shop_domain": shop,
                "outcome": assessment.outcome.value,
                "message": assessment.message,
                "finished_at": now,
            }
        ],
        update=["outcome", "message", "finished_at"],
    )
    rows = [
        {
            "run_id": run_id,
            "shop_domain": shop,
            "stream": c.stream,
            "part": c.part,
            "check_name": c.name,
            "expected": c.expected,
            "actual": c.actual,
            "ok": c.ok,
            "detail": c.detail,
        }
        for c in assessment.checks
    ]
    upsert(conn, t.run_checks, rows, update=["expected", "actual", "ok", "detail"])
