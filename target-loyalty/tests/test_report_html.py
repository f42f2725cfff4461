"""``target-loyalty report --format html`` rendered in a real headless Chromium.

A real sync (tap over HTTP against the emulator, target into SQLite) fills the books; the
report is written through the CLI, loaded by Chromium, and the figures the browser's DOM
shows are compared with the emulator's own data and the books read back with SQL. A tier
named like a script must show as text and never run. The screenshot is kept under
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
from loyalty_records import query
from shopify_emulator import generate_store

pytestmark = [pytest.mark.e2e]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "output" / "report-screenshots"
HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>Gold"


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
    flags += ["--enable-logging=stderr", "--v=0", "--window-size=1280,3000"]
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


def sync(server, url: str, tmp_path: Path) -> None:
    tap_config, target_config = tmp_path / "tap.json", tmp_path / "target.json"
    tap_config.write_text(
        json.dumps(
            {"store_url": server.base_url, "access_token": server.token, "sync_range": "all_time"}
        )
    )
    tiers = [
        {"name": "Bronze", "entry_threshold": "0"},
        {"name": HOSTILE, "entry_threshold": "300"},
    ]
    target_config.write_text(json.dumps({"database_url": url, "tiers": tiers}))
    # The tap's output recorded, then loaded: the same messages a pipe would carry.
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
        [str(BIN / "target-loyalty"), "--config", str(target_config), "--input", str(recording)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def test_html_report_in_chromium_shows_the_books(emulator_factory, tmp_path: Path) -> None:
    chromium_or_skip()
    store = generate_store(seed=31, customers=25, orders=120)
    server = emulator_factory(store=store)
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    sync(server, url, tmp_path)
    page = tmp_path / "loyalty-report.html"
    written = subprocess.run(
        [str(BIN / "target-loyalty"), "report", "--format", "html", "--output", str(page)],
        env={**os.environ, "TARGET_LOYALTY_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SHOTS / "target-loyalty.png"
    dom, console = render(page, screenshot)
    print(f"screenshot: {screenshot}")  # noqa: T201 - the artifact's path, for people
    assert screenshot.stat().st_size > 10_000
    assert console == [], console  # no errors, no blocked script or load
    shown = Figures()
    shown.feed(dom)

    # Orders per month: recomputed from Shopify's own data (non-test orders by order date).
    truth = server.control.snapshot()
    per_month = Counter(o["created_at"][:7] for o in truth["orders"] if not o["test"])
    assert shown.bars["orders-per-month"] == {
        ("orders", month): str(n) for month, n in per_month.items()
    }
    # Headline figures: the latest run as the books hold it.
    (run,) = query(
        url, "SELECT status, orders_synced, customers_synced, points_issued FROM loyalty_sync_runs"
    )
    assert (shown.tiles["status"], shown.tiles["orders_synced"]) == (run[0], str(run[1]))
    assert (shown.tiles["customers_synced"], shown.tiles["points_issued"]) == tuple(
        str(v) for v in run[2:]
    )
    assert int(shown.tiles["orders_synced"]) == sum(per_month.values())
    # Points issued and reversed per month: the ledger read back and grouped here.
    points: Counter[tuple[str, str]] = Counter()
    for occurred_at, amount in query(url, "SELECT occurred_at, points FROM loyalty_ledger"):
        points[("issued" if amount > 0 else "reversed", str(occurred_at)[:7])] += abs(amount)
    months = {month for _, month in points}
    expected = {
        (kind, m): str(points[(kind, m)]) for kind in ("issued", "reversed") for m in months
    }
    assert shown.bars["points-per-month"] == expected
    # Tier distribution and reconciliation against Shopify's order count.
    tiers = query(
        url,
        "SELECT COALESCE(tier, 'no tier'), COUNT(*) FROM loyalty_accounts "
        "WHERE status = 'active' GROUP BY tier",
    )
    assert shown.bars["tiers"] == {("", tier): str(n) for tier, n in tiers}
    assert HOSTILE in {tier for _, tier in shown.bars["tiers"]}
    assert shown.progress["orders:shopify"] == (str(len(truth["orders"])),) * 2

    # The hostile tier name is text on the page, never markup: no script element exists.
    assert shown.scripts == 0
    assert any(HOSTILE[:30] in chunk for chunk in shown.text)
    assert "<title>Loyalty sync report</title>" in dom
