"""`target-crm report`: a run's statistics and its reconciliation against the store."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.storage import create_store

# Outcomes that account for a received record (every record gets exactly one).
RECORD_OUTCOMES = {"created", "updated", "unchanged", "skipped", "rejected", "listed"}


def _latest_run(conn: Connection, shop: str | None) -> str | None:
    query = sa.select(t.sync_runs.c.run_id).order_by(t.sync_runs.c.started_at.desc())
    if shop:
        query = query.where(
            t.sync_runs.c.run_id.in_(
                sa.select(t.run_stats.c.run_id).where(t.run_stats.c.shop_domain == shop)
            )
        )
    return conn.scalars(query.limit(1)).first()


def _count(conn: Connection, table: sa.Table, *where: Any) -> int:
    return int(conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


def _tally(stats: list[dict[str, Any]]) -> tuple[dict[Any, int], dict[Any, int], dict[Any, int]]:
    received: dict[tuple[str, str], int] = defaultdict(int)
    accounted: dict[tuple[str, str], int] = defaultdict(int)
    created: dict[tuple[str, str], int] = defaultdict(int)
    for s in stats:
        key = (s["shop_domain"], s["stream"])
        if s["outcome"] == "received":
            received[key] += s["count"]
        elif s["outcome"] in RECORD_OUTCOMES and s["stream"] != "events":
            accounted[key] += s["count"]
        if s["outcome"] == "created":
            created[key] += s["count"]
    return received, accounted, created


def _check(name: str, shop: str, expected: int, actual: int) -> dict[str, Any]:
    return {
        "check": name,
        "shop_domain": shop,
        "expected": expected,
        "actual": actual,
        "ok": expected == actual,
    }


def _checks(conn: Connection, run_id: str, stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every received record accounted for; the store holds what the run says it created."""
    received, accounted, created = _tally(stats)
    checks = [
        _check(f"{stream} records accounted for", shop, n, accounted[(shop, stream)])
        for (shop, stream), n in sorted(received.items())
    ]
    for shop in sorted({s for s, _ in received} | {s for s, _ in created}):
        events = _count(conn, t.events, t.events.c.run_id == run_id, t.events.c.shop_domain == shop)
        contacts = _count(
            conn,
            t.contacts,
            t.contacts.c.created_run_id == run_id,
            t.contacts.c.shop_domain == shop,
        )
        checks.append(
            _check("events created in the store", shop, created[(shop, "events")], events)
        )
        checks.append(
            _check("contacts created in the store", shop, created[(shop, "customers")], contacts)
        )
    return checks


def build_report(
    database_url: str, shop: str | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """The report of one run (the latest by default), as a JSON-ready dict.

    Args:
        database_url: The store.
        shop: Only this shop's figures.
        run_id: The run; the latest (for the shop) when omitted.

    Returns:
        ``run``, ``statistics``, ``reconciliation``, ``store`` and ``ok``.
    """
    engine = create_store(database_url)
    with engine.connect() as conn:
        run_id = run_id or _latest_run(conn, shop)
        if run_id is None:
            return {"run": None, "statistics": [], "reconciliation": [], "store": {}, "ok": True}
        run = conn.execute(sa.select(t.sync_runs).where(t.sync_runs.c.run_id == run_id)).one()
        query = sa.select(t.run_stats).where(t.run_stats.c.run_id == run_id)
        if shop:
            query = query.where(t.run_stats.c.shop_domain == shop)
        stats = [dict(r._mapping) for r in conn.execute(query.order_by(*t.run_stats.c))]
        checks = _checks(conn, run_id, stats)
        store = _store_totals(conn, shop)
    engine.dispose()
    run_info = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run._mapping.items()
    }
    return {
        "run": run_info,
        "statistics": stats,
        "reconciliation": checks,
        "store": store,
        "ok": all(c["ok"] for c in checks),
    }


def _store_totals(conn: Connection, shop: str | None) -> dict[str, Any]:
    def where(table: sa.Table) -> list[Any]:
        return [table.c.shop_domain == shop] if shop else []

    by_status = conn.execute(
        sa.select(t.contacts.c.status, sa.func.count())
        .where(*where(t.contacts))
        .group_by(t.contacts.c.status)
    ).all()
    return {
        "contacts": {str(row[0]): int(row[1]) for row in by_status},
        "events": _count(conn, t.events, *where(t.events)),
        "orders": _count(conn, t.orders, *where(t.orders)),
        "quarantined": _count(conn, t.quarantine),
        "duplicates": _count(conn, t.duplicates, *where(t.duplicates)),
    }


def render_table(report: dict[str, Any]) -> str:
    """Plain-text rendering of a report."""
    run = report["run"]
    if run is None:
        return "No runs recorded.\n"
    lines = [
        f"Run {run['run_id']}  status={run['status']}  started={run['started_at']}  "
        f"finished={run['finished_at']}",
        "",
        f"{'shop':<32} {'stream':<16} {'outcome':<12} {'reason':<28} {'count':>8}",
    ]
    for s in report["statistics"]:
        lines.append(
            f"{s['shop_domain']:<32} {s['stream']:<16} {s['outcome']:<12} "
            f"{s['reason']:<28} {s['count']:>8}"
        )
    lines += ["", "Reconciliation:"]
    for c in report["reconciliation"]:
        mark = "OK  " if c["ok"] else "FAIL"
        lines.append(
            f"  {mark} {c['shop_domain']}: {c['check']}: expected {c['expected']}, "
            f"found {c['actual']}"
        )
    lines += ["", "Store: " + json.dumps(report["store"], sort_keys=True)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`target-crm report --database-url URL [--shop S] [--run ID] [--format table|json]`.

    Returns:
        0 when the reconciliation holds, 1 when it does not.
    """
    parser = argparse.ArgumentParser(prog="target-crm report", description=__doc__)
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the store")
    parser.add_argument("--shop", help="only this shop_domain")
    parser.add_argument("--run", help="a run id (default: the latest)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    report = build_report(args.database_url, args.shop, args.run)
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_table(report))
    return 0 if report["ok"] else 1
