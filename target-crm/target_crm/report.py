"""`target-crm report`: a run's statistics and its reconciliation against the store."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_crm import schema as t
from target_crm.closing import load_manifest
from target_crm.delivery.report import delivery_report, render_delivery
from target_crm.domain.reconciliation import tally_streams
from target_crm.storage import create_store

# Outcomes that account for a received record (every record gets exactly one).
RECORD_OUTCOMES = {"created", "updated", "unchanged", "skipped", "rejected", "listed"}


def _latest_run(conn: Connection, shop: str | None) -> str | None:
    # A refused run changed nothing: the latest data run is the one before it.
    query = (
        sa.select(t.sync_runs.c.run_id)
        .where(t.sync_runs.c.status != "refused")
        .order_by(t.sync_runs.c.started_at.desc())
    )
    if shop:
        query = query.where(
            t.sync_runs.c.run_id.in_(
                sa.select(t.run_stats.c.run_id).where(t.run_stats.c.shop_domain == shop)
            )
            | t.sync_runs.c.run_id.in_(
                sa.select(t.run_shops.c.run_id).where(t.run_shops.c.shop_domain == shop)
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
        "stream": "",
        "part": "",
        "expected": expected,
        "actual": actual,
        "ok": expected == actual,
        "detail": f"expected {expected}, found {actual}",
    }


def _manifest_checks(conn: Connection, run_id: str, shop: str | None) -> list[dict[str, Any]]:
    c = t.run_checks
    query = sa.select(c).where(c.c.run_id == run_id).order_by(c.c.shop_domain)
    if shop:
        query = query.where(c.c.shop_domain == shop)
    return [
        {
            "check": row.check_name,
            "shop_domain": row.shop_domain,
            "stream": row.stream,
            "part": row.part,
            "expected": int(row.expected),
            "actual": int(row.actual),
            "ok": bool(row.ok),
            "detail": row.detail,
        }
        for row in conn.execute(query)
    ]


def _outcomes(conn: Connection, run_id: str, shop: str | None) -> dict[str, dict[str, str]]:
    query = sa.select(t.run_shops).where(t.run_shops.c.run_id == run_id)
    if shop:
        query = query.where(t.run_shops.c.shop_domain == shop)
    return {
        r.shop_domain: {"outcome": r.outcome, "message": r.message} for r in conn.execute(query)
    }


def _streams(
    conn: Connection, run_id: str, stats: list[dict[str, Any]], shop: str | None
) -> list[dict[str, Any]]:
    """Per shop and stream: Shopify's counts, emitted, received, applied, skipped, quarantined."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    by_shop: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    for s in stats:
        by_shop[s["shop_domain"]].append((s["stream"], s["outcome"], s["reason"], s["count"]))
    for name, shop_rows in by_shop.items():
        for stream, tally in tally_streams(shop_rows).items():
            if stream == "events":
                continue
            rows[(name, stream)] = {
                "shop_domain": name,
                "stream": stream,
                "received": tally.received,
                "applied": tally.applied,
                "skipped": dict(sorted(tally.skipped.items())),
                "quarantined": tally.quarantined,
            }
    for name in {n for n, _ in rows} | set(_manifest_shops(conn, run_id, shop)):
        for part in load_manifest(conn, run_id, name):
            row = rows.setdefault(
                (name, part.stream),
                {
                    "shop_domain": name,
                    "stream": part.stream,
                    "received": 0,
                    "applied": 0,
                    "skipped": {},
                    "quarantined": 0,
                },
            )
            for key, value in (
                ("shopify_count_before", part.shopify_count_before),
                ("shopify_count_after", part.shopify_count_after),
                ("emitted", part.emitted),
            ):
                row[key] = row.get(key, 0) + value
    return [rows[k] for k in sorted(rows)]


def _manifest_shops(conn: Connection, run_id: str, shop: str | None) -> list[str]:
    m = t.sync_manifest
    query = sa.select(m.c.shop_domain).where(m.c.target_run_id == run_id).distinct()
    if shop:
        query = query.where(m.c.shop_domain == shop)
    return list(conn.scalars(query))


def _checks(
    conn: Connection, run_id: str, stats: list[dict[str, Any]], shop: str | None
) -> list[dict[str, Any]]:
    """The run's manifest checks, every received record accounted for, and the store
    holding what the run says it created."""
    received, accounted, created = _tally(stats)
    checks = _manifest_checks(conn, run_id, shop)
    checks += [
        _check(f"{stream} records accounted for", name, n, accounted[(name, stream)])
        for (name, stream), n in sorted(received.items())
    ]
    for shop_domain in sorted({s for s, _ in received} | {s for s, _ in created}):
        events = _count(
            conn, t.events, t.events.c.run_id == run_id, t.events.c.shop_domain == shop_domain
        )
        contacts = _count(
            conn,
            t.contacts,
            t.contacts.c.created_run_id == run_id,
            t.contacts.c.shop_domain == shop_domain,
        )
        checks.append(
            _check(
                "events created in the store", shop_domain, created[(shop_domain, "events")], events
            )
        )
        checks.append(
            _check(
                "contacts created in the store",
                shop_domain,
                created[(shop_domain, "customers")],
                contacts,
            )
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
            return {
                "run": None,
                "outcome": None,
                "shops": {},
                "streams": [],
                "dead_letters": 0,
                "statistics": [],
                "reconciliation": [],
                "store": {},
                "delivery": [],
                "ok": True,
            }
        run = conn.execute(sa.select(t.sync_runs).where(t.sync_runs.c.run_id == run_id)).one()
        query = sa.select(t.run_stats).where(t.run_stats.c.run_id == run_id)
        if shop:
            query = query.where(t.run_stats.c.shop_domain == shop)
        stats = [dict(r._mapping) for r in conn.execute(query.order_by(*t.run_stats.c))]
        checks = _checks(conn, run_id, stats, shop)
        outcomes = _outcomes(conn, run_id, shop)
        streams = _streams(conn, run_id, stats, shop)
        dead = _count(conn, t.dead_letters, t.dead_letters.c.run_id == run_id)
        store = _store_totals(conn, shop)
        delivery = delivery_report(conn, run_id)
    engine.dispose()
    run_info = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run._mapping.items()
    }
    status = outcomes[shop]["outcome"] if shop in outcomes else run_info["status"]
    return {
        "run": run_info,
        "outcome": status,
        "shops": outcomes,
        "streams": streams,
        "dead_letters": dead,
        "statistics": stats,
        "reconciliation": checks,
        "store": store,
        "delivery": delivery,
        "ok": status == "succeeded" and all(c["ok"] for c in checks),
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
        f"Run {run['run_id']}  outcome={report['outcome']}  started={run['started_at']}  "
        f"finished={run['finished_at']}",
    ]
    if run.get("error"):
        lines.append(f"  {run['error']}")
    for name, shop in sorted(report["shops"].items()):
        lines.append(f"  {name}: {shop['outcome']}")
    lines += ["", _STREAM_HEADER]
    for s in report["streams"]:
        skipped = ", ".join(f"{k or '-'}={v}" for k, v in s["skipped"].items()) or "0"
        lines.append(
            f"{s['shop_domain']:<32} {s['stream']:<16} {_n(s, 'shopify_count_before'):>7}/"
            f"{_n(s, 'shopify_count_after'):<7} {_n(s, 'emitted'):>8} {s['received']:>8} "
            f"{s['applied']:>8} {s['quarantined']:>8}  {skipped}"
        )
    lines.append(f"Dead letters: {report['dead_letters']}")
    lines += ["", f"{'shop':<32} {'stream':<16} {'outcome':<12} {'reason':<28} {'count':>8}"]
    for s in report["statistics"]:
        lines.append(
            f"{s['shop_domain']:<32} {s['stream']:<16} {s['outcome']:<12} "
            f"{s['reason']:<28} {s['count']:>8}"
        )
    lines += ["", "Reconciliation:"]
    for c in report["reconciliation"]:
        mark = "OK  " if c["ok"] else "FAIL"
        where = f"{c['stream']}{'/' + c['part'] if c['part'] else ''}: " if c["stream"] else ""
        lines.append(f"  {mark} {c['shop_domain']}: {where}{c['check']}: {c['detail']}")
    lines += ["", "Store: " + json.dumps(report["store"], sort_keys=True)]
    lines += render_delivery(report.get("delivery", []))
    return "\n".join(lines) + "\n"


_STREAM_HEADER = (
    f"{'shop':<32} {'stream':<16} {'shopify':>15} {'emitted':>8} {'received':>8} "
    f"{'applied':>8} {'quarant.':>8}  skipped"
)


def _n(row: dict[str, Any], key: str) -> str:
    return str(row[key]) if key in row else "-"


def main(argv: list[str]) -> int:
    """`target-crm report [--database-url URL] [--shop S] [--run ID] [--format ...] [--output F]`.

    Returns:
        0 when the run succeeded and every check holds, 1 otherwise, 2 for a configuration
        error.
    """
    # Imported here: this function alone is the command line, the rest of the module the data.
    from target_runtime.report_cli import ReportCommand, Verdict  # noqa: PLC0415

    from target_crm.exceptions import CrmConfigError  # noqa: PLC0415
    from target_crm.report_html import DATABASE_URL_VARIABLE, html_report  # noqa: PLC0415
    from target_crm.settings import DEFAULT_DATABASE_URL, database_url  # noqa: PLC0415

    def add_run(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="a run id (default: the latest)")

    command: ReportCommand[dict[str, Any]] = ReportCommand(
        prog="target-crm report",
        description=__doc__,
        database_variable=DATABASE_URL_VARIABLE,
        default_database_url=DEFAULT_DATABASE_URL,
        validate_database_url=lambda given: database_url({"database_url": given}),
        config_error=CrmConfigError,
        load=lambda url, args: build_report(url, args.shop, args.run),
        render_table=lambda report, args: render_table(report),
        render_html=lambda url, report, args: html_report(url, report, args.shop),
        verdict=lambda report: Verdict(bool(report["ok"])),
        add_arguments=add_run,
        database_noun="store",
    )
    return command.run(argv)
