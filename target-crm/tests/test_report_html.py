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

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from shopify_emulator import generate_store

pytestmark = [pytest.mark.e2e]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "output" / "report-screenshots"
HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>Eve"


def chromium_or_skip() -> str:
    """Debian's chromium; a skip with the reason when absent (a failure under CI)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail("REQUIRE_CHROMIUM=1 but chromium is not installed")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def render(page: Path, screenshot: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from the page, and every console message it logged."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--enable-logging=stderr", "--v=0", "--window-size=1280,4200"]
    shot = [chromium_or_skip(), *flags, f"--screenshot={screenshot}", page.as_uri()]
    subprocess.run(shot, capture_output=True, timeout=120, check=True)
    dom = subprocess.run(
        [chromium_or_skip(), *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dom.stdout, [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]


class Figures(HTMLParser):
    """What the DOM shows: tiles, bars per chart, progress bars, script elements, text."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}
        self.bars: dict[str, dict[tuple[str, str], str]] = {}
        self.progress: dict[str, tuple[str, str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts = 0
        self.text: list[str] = []
        self._chart = ""
        self._table: list[list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if "data-figure" in a:
            self.tiles[a["data-figure"]] = a["data-value"]
        if tag == "svg" and "data-chart" in a:
            self._chart = a["data-chart"]
            self.bars[self._chart] = {}
        if tag == "rect" and "data-value" in a:
            key = (a.get("data-series", ""), a["data-category"])
            self.bars[self._chart][key] = a["data-value"]
        if "data-progress" in a:
            self.progress[a["data-progress"]] = (a["data-done"], a["data-total"])
        if tag == "table" and "data-table" in a:
            self._table = self.tables.setdefault(a["data-table"], [])
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag == "td" and self._table:
            self._table[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._table and self._table[-1]:
            self._table[-1][-1] += data


def query(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sa.text(sql))]
    engine.dispose()
    return rows


def load(server, url: str, tmp_path: Path) -> None:
    """The tap's output recorded, then loaded by target-crm with MoEngage queued."""
    tap_config, target_config = tmp_path / "tap.json", tmp_path / "target.json"
    tap_config.write_text(
        json.dumps(
            {"store_url": server.base_url, "access_token": server.token, "sync_range": "all_time"}
        )
    )
    target_config.write_text(json.dumps({"database_url": url, "destinations": ["moengage"]}))
    recording = tmp_path / "extract.singer"
    with recording.open("wb") as out:
        subprocess.run(
            [str(BIN / "tap-shopify-history"), "--config", str(tap_config)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=True,
        )
    loaded = subprocess.run(
        [str(BIN / "target-crm"), "--config", str(target_config), "--input", str(recording)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def test_html_report_in_chromium_shows_the_store(emulator_factory, tmp_path: Path) -> None:
    chromium_or_skip()
    server = emulator_factory(store=generate_store(seed=32, customers=25, orders=120))
    first = server.control.create_customer(email="twin@example.com", first_name=HOSTILE)
    server.control.create_customer(email="Twin@Example.com", first_name="Eva")
    server.control.advance_time(5)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    load(server, url, tmp_path)
    page = tmp_path / "crm-report.html"
    written = subprocess.run(
        [str(BIN / "target-crm"), "report", "--format", "html", "--output", str(page)],
        env={**os.environ, "TARGET_CRM_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SHOTS / "target-crm.png"
    dom, console = render(page, screenshot)
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
