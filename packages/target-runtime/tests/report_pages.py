"""Helpers of the HTML report tests: a real sync into a target, and headless Chromium.

Shared by the report tests of target-runtime and of both targets (which put this folder on
``sys.path``). :func:`sync` runs the tap against an emulator and loads its output into a
target. :func:`render` loads a page in Debian's ``chromium`` and returns the DOM it built
and its console messages, keeping a screenshot; without chromium the test is skipped with
the reason, and fails under ``REQUIRE_CHROMIUM=1`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
#: Where screenshots are kept as artifacts (output/ is not tracked).
SHOTS = Path(__file__).resolve().parents[3] / "output" / "report-screenshots"


def chromium_or_skip() -> str:
    """Debian's chromium; a skip with the reason when absent (a failure under CI)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail("REQUIRE_CHROMIUM=1 but chromium is not installed")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def render(page: Path, screenshot: Path, height: int = 3000) -> tuple[str, list[str]]:
    """The DOM Chromium built from the page, and every console message it logged."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--enable-logging=stderr", "--v=0", f"--window-size=1280,{height}"]
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


def sync(server: Any, target: str, target_config: dict[str, Any], tmp_path: Path) -> None:
    """The tap's full read of the emulator's store, recorded, then loaded by ``target``."""
    tap_config, config = tmp_path / "tap.json", tmp_path / "target.json"
    tap_config.write_text(
        json.dumps(
            {"store_url": server.base_url, "access_token": server.token, "sync_range": "all_time"}
        )
    )
    config.write_text(json.dumps(target_config))
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
        [str(BIN / target), "--config", str(config), "--input", str(recording)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def write_report(target: str, variable: str, url: str, page: Path) -> None:
    """``<target> report --format html --output page``, the database from ``variable``."""
    written = subprocess.run(
        [str(BIN / target), "report", "--format", "html", "--output", str(page)],
        env={**os.environ, variable: url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
