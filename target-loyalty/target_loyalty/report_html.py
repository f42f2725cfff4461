"""``target-loyalty report --format html``: one self-contained page per shop.

What a merchant checks after a sync: the headline figures of the latest run, how the run's
records reconcile with Shopify's counts, orders and points per month, the tier distribution,
what was not applied and why (with the records), and the run history. The figures come from
:func:`target_loyalty.report.load_report` plus a few aggregates of the books read here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from target_runtime import report_html as h

from target_loyalty import schema as s
from target_loyalty import storage

QUARANTINE_LISTED = 200


def load_books(url: str, shop: str) -> dict[str, Any]:
    """Aggregates of one shop's books for the charts, read with SQLAlchemy Core.

    Returns:
        ``orders_by_month`` (month -> orders, earning basis), ``points_by_month`` (month ->
        issued, reversed), ``tiers`` (tier -> active accounts), ``accounts`` (status ->
        count) and ``quarantine`` (records not applied, newest first).
    """
    engine = storage.create_engine(url)
    o, led, a, q = s.orders, s.ledger, s.accounts, s.quarantine
    orders: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    points: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with engine.connect() as conn:
        # Grouped here, not in SQL: month arithmetic differs between SQLite and PostgreSQL.
        for created_at, basis in conn.execute(
            sa.select(o.c.created_at, o.c.net_basis).where(o.c.shop_domain == shop, ~o.c.test)
        ):
            month = orders[h.month_key(created_at) or "-"]
            month[0] += 1
            month[1] += basis
        for occurred_at, amount in conn.execute(
            sa.select(led.c.occurred_at, led.c.points).where(led.c.shop_domain == shop)
        ):
            month_points = points[h.month_key(occurred_at) or "-"]
            month_points[0 if amount > 0 else 1] += abs(int(amount))
        tiers = Counter(
            {
                tier or "no tier": int(n)
                for tier, n in conn.execute(
                    sa.select(a.c.tier, sa.func.count())
                    .where(a.c.shop_domain == shop, a.c.status == "active")
                    .group_by(a.c.tier)
                )
            }
        )
        statuses = {
            str(status): int(n)
            for status, n in conn.execute(
                sa.select(a.c.status, sa.func.count())
                .where(a.c.shop_domain == shop)
                .group_by(a.c.status)
            )
        }
        quarantined = [
            dict(row._mapping)
            for row in conn.execute(
                sa.select(q.c.run_id, q.c.stream, q.c.record_key, q.c.field, q.c.reason)
                .where(q.c.shop_domain == shop)
                .order_by(q.c.recorded_at.desc())
                .limit(5000)
            )
        ]
    engine.dispose()
    return {
        "orders_by_month": {m: tuple(v) for m, v in sorted(orders.items())},
        "points_by_month": {m: tuple(v) for m, v in sorted(points.items())},
        "tiers": dict(tiers),
        "accounts": statuses,
        "quarantine": quarantined,
    }


def render_html(report: dict[str, Any], books: dict[str, Any], shop: str) -> str:
    """The page for one shop: ``report`` from ``load_report``, ``books`` from :func:`load_books`."""
    runs = [r for r in report["runs"] if r["shop_domain"] == shop]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if not runs:
        body = [h.section("No syncs recorded", h.table([], [], empty="No sync of this shop yet."))]
        return h.page("Loyalty sync report", body, subtitle=shop, generated=generated)
    latest = runs[0]
    sections = [
        h.section(
            "Latest sync",
            _headline(latest, books),
            note=f"Run {latest['run_id']}, started {h.when(latest['started_at'])}, "
            f"finished {h.when(latest['finished_at']) if latest['finished_at'] else 'not yet'}.",
            key="latest",
        ),
        h.section(
            "Reconciliation with Shopify",
            _reconciliation(latest),
            note="Per stream: Shopify's count, what the tap emitted, what this run received and "
            "what became of each record.",
            key="reconciliation",
        ),
        _monthly_sections(books),
        h.section(
            "Tier distribution",
            h.hbar_chart("tiers", books["tiers"], empty="No active accounts."),
            note="Active accounts per tier.",
            key="tiers",
        ),
        h.section("Not applied, and why", _not_applied(latest, books), key="not-applied"),
        h.section("Run history", _history(runs), key="history"),
    ]
    title = "Loyalty sync report"
    return h.page(title, sections, subtitle=f"{shop} - {latest['status']}", generated=generated)


def _headline(run: dict[str, Any], books: dict[str, Any]) -> str:
    accounts = books["accounts"]
    return h.tiles(
        [
            h.Tile("Outcome", run["status"], "status"),
            h.Tile("Orders synced", run["orders_synced"], "orders_synced"),
            h.Tile("Customers synced", run["customers_synced"], "customers_synced"),
            h.Tile("Points issued", run["points_issued"], "points_issued"),
            h.Tile("Cashback issued", run["cashback_issued"], "cashback_issued"),
            h.Tile("Discrepancies", run["discrepancies"], "discrepancies"),
            h.Tile("Quarantined", run["quarantined"], "quarantined"),
            h.Tile("Active accounts", accounts.get("active", 0), "active_accounts"),
            h.Tile(
                "Orders from",
                (run["earliest_order_at"] or "")[:10] or None,
                "earliest_order_at",
                hint=f"to {(run['latest_order_at'] or '')[:10] or '-'}",
            ),
        ]
    )


def _reconciliation(run: dict[str, Any]) -> str:
    bars, rows = [], []
    for stream, c in run["streams"].items():
        accounted = c["applied"] + c["quarantined"] + sum(c["skipped"].values())
        total = c.get("shopify_count_after")
        # Shopify's count is met by what arrived plus what the tap excluded by rule.
        excluded = sum(c["excluded"].values())
        if total is not None:  # the manifest stream itself has no Shopify count
            bars.append(
                h.progress(
                    f"{stream}: received or excluded by rule, of Shopify's count",
                    c["received"] + excluded,
                    total,
                    key=f"{stream}:shopify",
                )
            )
        rows.append(
            [
                stream,
                c.get("shopify_count_before"),
                total,
                c.get("emitted"),
                excluded,
                c["received"],
                c["applied"],
                sum(c["skipped"].values()),
                c["quarantined"],
                accounted,
            ]
        )
    headers = [
        "stream",
        "Shopify before",
        "Shopify after",
        "emitted",
        "excluded",
        "received",
        "applied",
        "skipped",
        "quarantined",
        "accounted for",
    ]
    checks = h.table(
        ["stream", "check", "status", "detail"],
        [
            [c["stream"], c["check"], h.status_badge(c["status"]), c["detail"]]
            for c in run["checks"]
        ],
        key="checks",
        html_columns=[2],
        empty="No checks recorded for this run.",
    )
    streams = h.table(
        headers, rows, key="streams", numeric=range(1, 10), empty="No stream counts recorded."
    )
    failed = sum(str(c["status"]).upper() != "OK" for c in run["checks"])
    folded = h.collapsible(
        f"Checks: {failed} not ok" if failed else "Checks: all ok",
        checks,
        count=len(run["checks"]),
        opened=bool(failed),
    )
    return "".join(bars) + streams + folded


def _monthly_sections(books: dict[str, Any]) -> str:
    by_month = books["orders_by_month"]
    none = "No orders in the books."
    orders = h.monthly_chart("orders-per-month", by_month, [("orders", 0)], empty=none)
    revenue = h.monthly_chart("basis-per-month", by_month, [("earning basis", 1)], empty=none)
    points = h.monthly_chart(
        "points-per-month",
        books["points_by_month"],
        [("issued", 0), ("reversed", 1)],
        empty="No ledger entries yet.",
    )
    return (
        h.section(
            "Orders per month",
            orders,
            note="Orders in the books by order date (test orders excluded).",
            key="orders-month",
        )
        + h.section(
            "Earning basis per month",
            revenue,
            note="The amount points are earned on, net of refunds, by order date.",
            key="basis-month",
        )
        + h.section(
            "Points issued and reversed per month",
            points,
            note="Issued: ledger "
            "entries adding points; reversed: entries taking them back (refunds, "
            "cancellations, expiry, merges).",
            key="points-month",
        )
    )


def _not_applied(run: dict[str, Any], books: dict[str, Any]) -> str:
    skipped: Counter[str] = Counter()
    for stream, counts in run["streams"].items():
        for reason, n in counts["skipped"].items():
            skipped[f"{stream}: {reason}"] += n
    by_reason = Counter(
        {
            f"{g['stream']}.{g['field']}: {g['reason']}": g["count"]
            for g in run["discrepancies_by_reason"]
        }
    )
    quarantine_reasons = Counter(
        f"{q['stream']}: {q['reason']}" for q in books["quarantine"] if q["run_id"] == run["run_id"]
    )
    listed = h.table(
        ["stream", "record", "field", "reason", "corrected"],
        [
            [d["stream"], d["record_key"], d["field"], d["reason"], d["corrected"]]
            for d in run["discrepancy_rows"]
        ],
        key="discrepancy-rows",
        limit=QUARANTINE_LISTED,
        empty="No discrepancies in this run.",
    )
    quarantined = h.table(
        ["run", "stream", "record", "field", "reason"],
        [
            [q["run_id"][:8], q["stream"], q["record_key"], q["field"], q["reason"]]
            for q in books["quarantine"]
        ],
        key="quarantine-rows",
        limit=QUARANTINE_LISTED,
        empty="No record was ever quarantined for this shop.",
    )
    return (
        "<h3>Skipped by reason</h3>"
        + h.hbar_chart("skipped", dict(skipped), empty="Nothing skipped.")
        + "<h3>Quarantined in this run, by reason</h3>"
        + h.hbar_chart("quarantine-reasons", dict(quarantine_reasons), empty="Nothing quarantined.")
        + "<h3>Discrepancies by reason</h3>"
        + h.hbar_chart("discrepancies", dict(by_reason), empty="No discrepancies.")
        + h.collapsible("Discrepancies", listed, count=len(run["discrepancy_rows"]))
        + h.collapsible("Quarantined records", quarantined, count=len(books["quarantine"]))
    )


def _history(runs: list[dict[str, Any]]) -> str:
    chronological = list(reversed(runs))
    chart = h.bar_chart(
        "runs",
        [r["started_at"][5:16].replace("T", " ") for r in chronological],
        [
            h.Series("orders synced", [r["orders_synced"] for r in chronological]),
            h.Series("customers synced", [r["customers_synced"] for r in chronological]),
        ],
    )
    rows = [
        [
            r["run_id"][:8],
            h.status_badge(r["status"]),
            r["started_at"],
            r["finished_at"],
            r["orders_synced"],
            r["customers_synced"],
            r["points_issued"],
            r["discrepancies"],
            r["quarantined"],
        ]
        for r in runs
    ]
    headers = [
        "run",
        "status",
        "started",
        "finished",
        "orders",
        "customers",
        "points",
        "discrepancies",
        "quarantined",
    ]
    return chart + h.table(headers, rows, key="history", numeric=range(4, 9), html_columns=[1])
