"""``target-crm report --format html``: one self-contained page per shop.

The figures come from the run's report and from :func:`target_crm.report_html_data.load_store`.

The latest run's figures and reconciliation (from :func:`target_crm.report.build_report`),
the store's orders and events per month, contacts by status and consent, delivery per
destination (whatever figures the report carries), what was not applied and why with the
records listed (skipped, quarantined, flagged duplicates), and the run history.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from target_runtime import report_html as h

from target_crm.report_html_data import LISTED, load_store

#: Where ``meltano invoke target-crm:report`` finds the plugin's configured database
#: (Meltano exports each setting as <NAMESPACE>_<SETTING>, for inherited plugins too).
DATABASE_URL_VARIABLE = "TARGET_CRM_DATABASE_URL"
EVENT_KINDS = ("order_placed", "order_updated", "order_cancelled", "order_refunded")


def html_report(url: str, report: dict[str, Any], shop: str | None) -> str:
    """The page for ``shop``, else for the shop of the run's figures (the first by name)."""
    shops = sorted(report["shops"]) or sorted({s["shop_domain"] for s in report["streams"]})
    chosen = shop or (shops[0] if shops else "")
    run_id = report["run"]["run_id"] if report["run"] else None
    return render_html(report, load_store(url, chosen, run_id), chosen)


def render_html(report: dict[str, Any], store: dict[str, Any], shop: str) -> str:
    """The page: ``report`` from ``build_report``, ``store`` from :func:`load_store`."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    run = report["run"]
    if run is None:
        body = [h.section("No syncs recorded", h.table([], [], empty="No run of this shop yet."))]
        return h.page("CRM sync report", body, subtitle=shop, generated=generated)
    sections = [
        h.section(
            "Latest sync",
            _headline(report, store),
            note=f"Run {run['run_id']}, started {h.when(run['started_at'])}, finished "
            f"{h.when(run['finished_at']) if run['finished_at'] else 'not yet'}.",
            key="latest",
        ),
        h.section("Reconciliation with Shopify", _reconciliation(report), key="reconciliation"),
        _monthly_sections(store),
        h.section(
            "Contacts",
            "<h3>By status</h3>"
            + h.hbar_chart("contacts", store["contacts_by_status"], empty="No contacts yet.")
            + "<h3>Email consent of active contacts</h3>"
            + h.hbar_chart("consent", store["email_consent"], empty="No active contacts."),
            key="contacts",
        ),
        _delivery(report.get("delivery") or []),
        h.section("Not applied, and why", _not_applied(report, store), key="not-applied"),
        h.section("Run history", _history_block(store["history"]), key="history"),
    ]
    subtitle = f"{shop} - {report['outcome']}"
    return h.page("CRM sync report", sections, subtitle=subtitle, generated=generated)


def _monthly_sections(store: dict[str, Any]) -> str:
    by_month = store["orders_by_month"]
    none = "No orders in the store."
    orders = h.monthly_chart("orders-per-month", by_month, [("orders", 0)], empty=none)
    value = h.monthly_chart("value-per-month", by_month, [("net value", 1)], empty=none)
    event_months = list(store["events_by_month"])
    kinds = sorted(
        {k for counts in store["events_by_month"].values() for k in counts},
        key=lambda k: (EVENT_KINDS.index(k) if k in EVENT_KINDS else len(EVENT_KINDS), k),
    )
    events = h.bar_chart(
        "events-per-month",
        event_months,
        [h.Series(k, [store["events_by_month"][m].get(k, 0) for m in event_months]) for k in kinds],
        empty="No events in the store.",
    )
    return (
        h.section(
            "Orders per month",
            orders,
            note="Orders that count as orders (paid, not test), by order date.",
            key="orders-month",
        )
        + h.section(
            "Order value per month",
            value,
            note="Net value (after refunds) of those orders, by order date.",
            key="value-month",
        )
        + h.section(
            "Events per month",
            events,
            note="Order events in the store by when they happened, per kind.",
            key="events-month",
        )
    )


def _history_block(history: list[dict[str, Any]]) -> str:
    chronological = list(reversed(history))
    chart = h.bar_chart(
        "runs",
        [h.when(_iso(r["started_at"]))[5:16] for r in chronological],
        [
            h.Series(
                "events created", [r["counts"].get("events:created", 0) for r in chronological]
            ),
            h.Series(
                "contacts created", [r["counts"].get("customers:created", 0) for r in chronological]
            ),
        ],
    )
    rows = [
        [
            r["run_id"][:8],
            h.status_badge(r["status"]),
            h.when(_iso(r["started_at"])),
            h.when(_iso(r["finished_at"])),
            r["counts"].get("orders:received", 0),
            r["counts"].get("customers:received", 0),
            r["counts"].get("events:created", 0),
            r["counts"].get("customers:rejected", 0) + r["counts"].get("orders:rejected", 0),
        ]
        for r in history
    ]
    headers = [
        "run",
        "status",
        "started",
        "finished",
        "orders received",
        "customers received",
        "events created",
        "rejected",
    ]
    return chart + h.table(headers, rows, key="history", numeric=range(4, 8), html_columns=[1])


def _stat(report: dict[str, Any], stream: str, outcome: str) -> int:
    return sum(
        s["count"]
        for s in report["statistics"]
        if s["stream"] == stream and s["outcome"] == outcome
    )


def _headline(report: dict[str, Any], store: dict[str, Any]) -> str:
    checks = report["reconciliation"]
    return h.tiles(
        [
            h.Tile("Outcome", report["outcome"], "outcome"),
            h.Tile("Orders received", _stat(report, "orders", "received"), "orders_received"),
            h.Tile("Contacts created", _stat(report, "customers", "created"), "contacts_created"),
            h.Tile("Contacts updated", _stat(report, "customers", "updated"), "contacts_updated"),
            h.Tile("Events created", _stat(report, "events", "created"), "events_created"),
            h.Tile("Active contacts", store["contacts_by_status"].get("active", 0), "active"),
            h.Tile("Events in store", report["store"].get("events", 0), "events_total"),
            h.Tile("Dead letters", report["dead_letters"], "dead_letters"),
            h.Tile(
                "Checks passed",
                f"{sum(c['ok'] for c in checks)} of {len(checks)}",
                "checks",
                hint="every check must hold for the run to count as reconciled",
            ),
        ]
    )


def _reconciliation(report: dict[str, Any]) -> str:
    bars, rows = [], []
    for s in report["streams"]:
        skipped = sum(s["skipped"].values())
        if "emitted" in s:
            bars.append(
                h.progress(
                    f"{s['stream']}: received of what the tap emitted",
                    s["received"],
                    s["emitted"],
                    key=f"{s['stream']}:emitted",
                )
            )
        rows.append(
            [
                s["stream"],
                s.get("shopify_count_before"),
                s.get("shopify_count_after"),
                s.get("emitted"),
                s["received"],
                s["applied"],
                skipped,
                s["quarantined"],
            ]
        )
    headers = [
        "stream",
        "Shopify before",
        "Shopify after",
        "emitted",
        "received",
        "applied",
        "skipped",
        "quarantined",
    ]
    streams = h.table(
        headers, rows, key="streams", numeric=range(1, 8), empty="No stream counts recorded."
    )
    checks = h.table(
        ["stream", "check", "result", "detail"],
        [
            [
                f"{c['stream']}{'/' + c['part'] if c['part'] else ''}",
                c["check"],
                h.status_badge("ok" if c["ok"] else "fail"),
                c["detail"],
            ]
            for c in report["reconciliation"]
        ],
        key="checks",
        html_columns=[2],
        empty="No checks recorded.",
    )
    note = (
        '<p class="note">Per stream: Shopify\'s counts before and after the read, what the '
        "tap emitted, what this run received and what became of each record.</p>"
    )
    failed = sum(not c["ok"] for c in report["reconciliation"])
    folded = h.collapsible(
        f"Checks: {failed} failed" if failed else "Checks: all hold",
        checks,
        count=len(report["reconciliation"]),
        opened=bool(failed),
    )
    return note + "".join(bars) + streams + folded


def _delivery(entries: list[dict[str, Any]]) -> str:
    """Delivery per destination: every whole-number figure an entry carries, as it comes."""
    if not entries:
        return h.section(
            "Delivery",
            h.table([], [], key="delivery", empty="No destination configured."),
            key="delivery",
        )
    figures: list[str] = []
    for entry in entries:
        figures += [
            k
            for k, v in entry.items()
            if isinstance(v, int) and not isinstance(v, bool) and k not in figures
        ]
    rows = [[e.get("destination", "-"), *(e.get(k) for k in figures)] for e in entries]
    table = h.table(
        ["destination", *(k.replace("_", " ") for k in figures)],
        rows,
        key="delivery",
        numeric=range(1, len(figures) + 1),
    )
    reasons = [
        [e.get("destination", "-"), state, reason or "-", count]
        for e in entries
        for state, by_reason in sorted((e.get("reasons") or {}).items())
        for reason, count in sorted(by_reason.items())
    ]
    feedback = [
        [e.get("destination", "-"), f.get("message"), f.get("path")]
        for e in entries
        for f in e.get("feedback") or []
    ]
    body = (
        table
        + "<h3>Not delivered, by reason</h3>"
        + h.table(
            ["destination", "state", "reason", "count"],
            reasons,
            key="delivery-reasons",
            numeric=[3],
            empty="Every queued item was delivered or is still queued.",
        )
        + "<h3>Errors the platforms reported</h3>"
        + h.table(
            ["destination", "message", "path"],
            feedback,
            key="delivery-feedback",
            limit=LISTED,
            empty="None.",
        )
    )
    return h.section("Delivery per destination", body, key="delivery")


def _not_applied(report: dict[str, Any], store: dict[str, Any]) -> str:
    reasons: Counter[str] = Counter()
    for s in report["statistics"]:
        if s["outcome"] in ("skipped", "rejected", "suppressed"):
            reasons[f"{s['stream']} {s['outcome']}: {s['reason'] or '-'}"] += s["count"]
    skipped = h.table(
        ["stream", "record", "reason"],
        [[r["stream"], r["record_key"], r["reason"]] for r in store["skipped_records"]],
        key="skipped-rows",
        limit=LISTED,
        empty="No record was skipped in this run.",
    )
    quarantined = h.table(
        ["stream", "record", "field", "reason"],
        [[q["stream"], q["record_key"], q["field"], q["reason"]] for q in store["quarantine"]],
        key="quarantine-rows",
        limit=LISTED,
        empty="No record was quarantined in this run.",
    )
    duplicates = h.table(
        ["contact", "name", "email", "matches", "matched name", "rule", "policy"],
        [
            [
                str(d["customer_id"]),  # an id, not a quantity: no thousands separators
                " ".join(filter(None, [d["first_name"], d["last_name"]])),
                d["email"],
                str(d["matched_customer_id"]),
                " ".join(filter(None, [d["matched_first_name"], d["matched_last_name"]])),
                d["rule"],
                d["policy"],
            ]
            for d in store["duplicates"]
        ],
        key="duplicate-rows",
        empty="No possible duplicates.",
    )
    return (
        "<h3>By reason</h3>"
        + h.hbar_chart("not-applied", dict(reasons), empty="Everything received was applied.")
        + "<h3>Skipped records</h3>"
        + skipped
        + "<h3>Quarantined records</h3>"
        + quarantined
        + "<h3>Possible duplicates</h3>"
        + duplicates
    )


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
