"""``target-loyalty report --format html`` rendered in a real headless Chromium.

A real sync (tap over HTTP against the emulator, target into SQLite) fills the books; the
report is written through the CLI, loaded by Chromium, and the figures the browser's DOM
shows are compared with the emulator's own data and the books read back with SQL. A tier
named like a script must show as text and never run. The screenshot is kept under
``output/report-screenshots/`` (the path is printed).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from loyalty_records import query
from shopify_emulator import generate_store

pytestmark = [pytest.mark.e2e]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
# The report tests' browser helpers live with the shared renderer's tests.
sys.path.insert(0, str(ROOT / "packages" / "target-runtime" / "tests"))
from report_pages import SHOTS, Figures, chromium_or_skip, render, sync, write_report  # noqa: E402

HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>Gold"


def test_html_report_in_chromium_shows_the_books(emulator_factory, tmp_path: Path) -> None:
    chromium_or_skip()
    store = generate_store(seed=31, customers=25, orders=120)
    server = emulator_factory(store=store)
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    tiers = [
        {"name": "Bronze", "entry_threshold": "0"},
        {"name": HOSTILE, "entry_threshold": "300"},
    ]
    sync(server, "target-loyalty", {"database_url": url, "tiers": tiers}, tmp_path)
    page = tmp_path / "loyalty-report.html"
    write_report("target-loyalty", "TARGET_LOYALTY_DATABASE_URL", url, page)
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
