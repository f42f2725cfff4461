"""``target-crm report --format html`` rendered in a real headless Chromium.

A real sync (tap over HTTP against the emulator, target into SQLite, one destination
queued) fills the store; the report is written through ``meltano``-style invocation of the
CLI (the database from $TARGET_CRM_DATABASE_URL), loaded by Chromium, and the figures its
DOM shows are compared with the emulator's data and the store read back with SQL. Two
customers sharing an email, one named like a script, are flagged as possible duplicates:
the name must show as text and never run. The screenshot is kept under
``output/report-screenshots/`` (the path is printed).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from shopify_emulator import generate_store

pytestmark = [pytest.mark.e2e]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
# The report tests' browser helpers live with the shared renderer's tests.
sys.path.insert(0, str(ROOT / "packages" / "target-runtime" / "tests"))
from report_pages import SHOTS, Figures, chromium_or_skip, render, sync, write_report  # noqa: E402

HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>Eve"


def query(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sa.text(sql))]
    engine.dispose()
    return rows


def test_html_report_in_chromium_shows_the_store(emulator_factory, tmp_path: Path) -> None:
    chromium_or_skip()
    server = emulator_factory(store=generate_store(seed=32, customers=25, orders=120))
    first = server.control.create_customer(email="twin@example.com", first_name=HOSTILE)
    server.control.create_customer(email="Twin@Example.com", first_name="Eva")
    server.control.advance_time(5)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    sync(server, "target-crm", {"database_url": url, "destinations": ["moengage"]}, tmp_path)
    page = tmp_path / "crm-report.html"
    write_report("target-crm", "TARGET_CRM_DATABASE_URL", url, page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SHOTS / "target-crm.png"
    dom, console = render(page, screenshot, height=4200)
    print(f"screenshot: {screenshot}")  # noqa: T201 - the artifact's path, for people
    assert screenshot.stat().st_size > 10_000
    assert console == [], console  # no errors, no blocked script or load
    shown = Figures()
    shown.feed(dom)

    # Events per month: the store read back and grouped here.
    events: Counter[tuple[str, str]] = Counter()
    for occurred_at, kind in query(url, "SELECT occurred_at, kind FROM events"):
        events[(kind, str(occurred_at)[:7])] += 1
    kinds = {kind for kind, _ in events}
    months = {month for _, month in events}
    assert shown.bars["events-per-month"] == {
        (kind, month): str(events[(kind, month)]) for kind in kinds for month in months
    }
    # Orders per month: from Shopify's own data, the orders whose money counts.
    paid = {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}
    truth = server.control.snapshot()
    counted = [o for o in truth["orders"] if not o["test"] and o["financial_status"] in paid]
    stored = query(url, "SELECT created_at FROM orders WHERE counts_as_order")
    assert len(stored) <= len(counted)
    per_month = Counter(str(created)[:7] for (created,) in stored)
    assert shown.bars["orders-per-month"] == {("orders", m): str(n) for m, n in per_month.items()}
    # Headline: every customer became a contact; reconciliation against the tap's count.
    contacts = query(url, "SELECT COUNT(*) FROM contacts WHERE status = 'active'")[0][0]
    assert shown.tiles["active"] == str(contacts)
    assert shown.tiles["outcome"] == "succeeded"
    emitted = len([o for o in truth["orders"] if not o["test"]])
    assert shown.progress["orders:emitted"] == (str(emitted), str(emitted))
    # Delivery: MoEngage's queue as the outbox holds it.
    queued = query(url, "SELECT COUNT(*) FROM outbox WHERE destination = 'moengage'")[0][0]
    assert queued > 0
    delivery = [row for row in shown.tables["delivery"] if row]  # the header row has no td
    assert delivery[0][:2] == ["moengage", str(queued)]

    # The duplicate pair is listed with the hostile name as text; no script element exists.
    duplicates = [row for row in shown.tables["duplicate-rows"] if row]
    pairs = {(row[0], row[1]) for row in duplicates} | {(row[3], row[4]) for row in duplicates}
    assert (str(first), HOSTILE) in pairs, duplicates
    assert shown.scripts == 0
