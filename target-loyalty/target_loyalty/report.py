"""``target-loyalty report``: the sync statistics, as a table, JSON or an HTML page."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from target_runtime.report_cli import ReportCommand, Verdict

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.exceptions import InvalidConfigError
from target_loyalty.outcome import report_rows
from target_loyalty.settings import DEFAULT_DATABASE_URL, database_url_from_config

#: Where ``meltano invoke target-loyalty:report`` finds the plugin's configured database
#: (Meltano exports each setting as <NAMESPACE>_<SETTING>, for inherited plugins too).
DATABASE_URL_VARIABLE = "TARGET_LOYALTY_DATABASE_URL"

COLUMNS = (
    "run_id",
    "shop_domain",
    "status",
    "started_at",
    "finished_at",
    "orders_synced",
    "customers_synced",
    "customer_records",
    "points_issued",
    "cashback_issued",
    "earliest_order_at",
    "latest_order_at",
    "discrepancies",
    "quarantined",
    "customers_deleted",
    "customers_merged",
    "accounts_purged",
)


DETAIL_KEYS = ("discrepancy_rows", "discrepancies_by_reason", "streams", "checks", "dead_letters")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def load_report(url: str, shop: str | None, limit: int) -> dict[str, Any]:
    """Runs (newest first) with their discrepancy rows, as plain JSON-ready data."""
    engine = storage.create_engine(url)
    runs, d = s.sync_runs, s.discrepancies
    query = sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit)
    if shop:
        query = query.where(runs.c.shop_domain == shop)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            notes = conn.execute(
                sa.select(d.c.stream, d.c.record_key, d.c.field, d.c.reason, d.c.corrected)
                .where(d.c.run_id == row["run_id"], d.c.shop_domain == row["shop_domain"])
                .order_by(d.c.discrepancy_id)
                .limit(1000)
            )
            row["discrepancy_rows"] = [dict(n._mapping) for n in notes]
            counts = conn.execute(
                sa.select(d.c.corrected, d.c.stream, d.c.field, d.c.reason, sa.func.count())
                .where(d.c.run_id == row["run_id"], d.c.shop_domain == row["shop_domain"])
                .group_by(d.c.corrected, d.c.stream, d.c.field, d.c.reason)
            )
            row["discrepancies_by_reason"] = [
                {"corrected": bool(c), "stream": st, "field": f, "reason": r, "count": n}
                for c, st, f, r, n in counts
            ]
            row.update(report_rows(conn, row["run_id"], row["shop_domain"]))
    engine.dispose()
    return {
        "runs": [
            {
                k: _plain(v) if k not in DETAIL_KEYS else v
                for k, v in row.items()
                if k in COLUMNS or k in DETAIL_KEYS
            }
            for row in rows
        ]
    }


def render_table(report: dict[str, Any], details: bool = False) -> str:
    """A plain-text table of runs, each with its discrepancies counted by reason.

    With ``details`` every discrepancy row is listed too (the JSON format always has them).
    """
    lines = []
    for run in report["runs"]:
        lines.append(f"Sync {run['run_id']} - {run['shop_domain']} ({run['status']})")
        for column in COLUMNS[3:]:
            value = run[column]
            lines.append(f"  {column.replace('_', ' '):<20} {'' if value is None else value}")
        lines.extend(_stream_lines(run))
        by_reason = sorted(run["discrepancies_by_reason"], key=lambda g: -int(g["count"]))
        for group in by_reason:
            where = f"{group['stream']}.{group['field']}"
            lines.append(f"    {group['count']:>7} x [{_tag(group)}] {where}: {group['reason']}")
        if details:
            for note in run["discrepancy_rows"]:
                where = f"{note['stream']} {note['record_key']} {note['field']}"
                lines.append(f"    - [{_tag(note)}] {where}: {note['reason']}")
    return "\n".join(lines) if lines else "No syncs recorded."


STREAM_COLUMNS = (
    ("shopify_count_before", "shopify before"),
    ("shopify_count_after", "shopify after"),
    ("emitted", "emitted"),
    ("received", "received"),
    ("applied", "applied"),
    ("quarantined", "quarantined"),
)


def _stream_lines(run: dict[str, Any]) -> list[str]:
    """Per-stream reconciliation: Shopify's counts, the tap's, the target's, the checks."""
    lines = [f"  {'dead letters':<20} {run['dead_letters']}"]
    for stream, counts in run["streams"].items():
        numbers = ", ".join(f"{label} {counts.get(key, '-')}" for key, label in STREAM_COLUMNS)
        lines.append(f"  stream {stream}: {numbers}")
        for title, key in (("skipped", "skipped"), ("excluded by the tap", "excluded")):
            if counts[key]:
                reasons = ", ".join(f"{r} {n}" for r, n in sorted(counts[key].items()))
                lines.append(f"    {title}: {reasons}")
        if counts.get("redacted_on_arrival"):
            lines.append(f"    redacted on arrival: {counts['redacted_on_arrival']}")
        for kind, outcomes in sorted(counts.get("privacy", {}).items()):
            done = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
            lines.append(f"    privacy requests {kind}: {done}")
    for check in run["checks"]:
        lines.append(
            f"  check {check['stream']} {check['check']}: {check['status']} ({check['detail']})"
        )
    return lines


def latest_not_succeeded(report: dict[str, Any]) -> list[str]:
    """Shops whose latest run in the report did not succeed, with that run's status."""
    latest: dict[str, dict[str, Any]] = {}
    for run in report["runs"]:  # newest first
        latest.setdefault(run["shop_domain"], run)
    return [
        f"{shop}: latest run {run['run_id']} is {run['status']}"
        for shop, run in sorted(latest.items())
        if run["status"] != "succeeded"
    ]


def _tag(note: dict[str, Any]) -> str:
    return "corrected" if note["corrected"] else "not applied"


def main(argv: Sequence[str]) -> int:
    """Print the report, or write it as HTML.

    Args:
        argv: Arguments after ``report``.

    Returns:
        The process exit code: 0 when every shop's latest run succeeded, 1 when one did not,
        2 for a configuration error.
    """
    return REPORT_COMMAND.run(argv)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=20, help="most recent runs to show")
    parser.add_argument(
        "--details", action="store_true", help="list every discrepancy, not only counts by reason"
    )


def _verdict(report: dict[str, Any]) -> Verdict:
    failing = latest_not_succeeded(report)
    return Verdict(not failing, [f"not succeeded: {line}" for line in failing])


def _html(url: str, report: dict[str, Any], shop: str | None) -> str:
    from target_loyalty.report_html import load_books, render_html  # noqa: PLC0415

    # One page per shop: the one asked for, else the shop of the latest run.
    shop = shop or (report["runs"][0]["shop_domain"] if report["runs"] else "")
    return render_html(report, load_books(url, shop), shop)


REPORT_COMMAND: ReportCommand[dict[str, Any]] = ReportCommand(
    prog="target-loyalty report",
    description=__doc__,
    database_variable=DATABASE_URL_VARIABLE,
    default_database_url=DEFAULT_DATABASE_URL,
    validate_database_url=lambda given: database_url_from_config({"database_url": given}),
    config_error=InvalidConfigError,
    load=lambda url, args: load_report(url, args.shop, args.limit),
    render_table=lambda report, args: render_table(report, details=args.details) + "\n",
    render_html=lambda url, report, args: _html(url, report, args.shop),
    verdict=_verdict,
    add_arguments=_add_arguments,
    database_noun="books",
)
