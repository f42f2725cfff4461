"""report_html: every value escaped, charts drawn to scale, the page closed to scripts."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_runtime import report_html as h

HOSTILE = "<script>alert('x')</script>\"'&<img src=x onerror=alert(1)>"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    return tags


def every_block(value: str) -> str:
    """One page using every building block with ``value`` wherever a value can go."""
    return h.page(
        value,
        [
            h.section(value, h.tiles([h.Tile(value, value, value, hint=value)]), note=value),
            h.table([value], [[value]], key=value),
            h.bar_chart(value, [value, "b"], [h.Series(value, [1, 2]), h.Series("s", [3, 4])]),
            h.hbar_chart(value, {value: 3}),
            h.progress(value, 1, 2, key=value),
            h.status_badge(value),
        ],
        subtitle=value,
        generated=value,
    )


@given(st.text(alphabet=st.sampled_from("<>&\"'/=abc ")))
def test_no_value_becomes_markup(value: str) -> None:
    tags = parse(every_block(value))
    names = {tag for tag, _ in tags.tags}
    assert names <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "main",
        "section", "h2", "div", "table", "thead", "tr", "th", "tbody", "td", "svg", "line",
        "text", "rect", "span", "i", "footer",
    }  # fmt: skip
    assert all(not k.startswith("on") for _, attrs in tags.tags for k in attrs)


def test_a_script_in_a_value_is_text() -> None:
    page = every_block(HOSTILE)
    tags = parse(page)
    assert "script" not in {tag for tag, _ in tags.tags}
    assert "img" not in {tag for tag, _ in tags.tags}
    assert HOSTILE in "".join(tags.text)
    # And were anything to slip through, the page's policy forbids scripts and remote loads.
    assert "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"https?:", page)
    assert ".tile{" in page  # the styles are inline, read from the package's report.css


def test_bars_are_drawn_to_scale_with_their_figures() -> None:
    chart = h.bar_chart(
        "orders", ["2026-01", "2026-02"], [h.Series("synced", [50, 100]), h.Series("s", [0, 25])]
    )
    rects = [a for tag, a in parse(chart).tags if tag == "rect"]
    figures = {(a["data-series"], a["data-category"]): a["data-value"] for a in rects}
    assert figures == {
        ("synced", "2026-01"): "50",
        ("synced", "2026-02"): "100",
        ("s", "2026-01"): "0",
        ("s", "2026-02"): "25",
    }
    heights = {(a["data-series"], a["data-category"]): float(a["height"]) for a in rects}
    # 100 is the axis top (five steps of 20), so 50 stands half as high and 0 not at all.
    assert heights[("synced", "2026-01")] == pytest.approx(heights[("synced", "2026-02")] / 2)
    assert heights[("s", "2026-01")] == 0
    assert heights[("s", "2026-02")] == pytest.approx(heights[("synced", "2026-02")] / 4)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 0), (1, 1), (7, 8), (10, 10), (11, 15), (101, 150), (240, 250), (4_100, 5_000)],
)
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_bar(
    value: float, ceiling: float
) -> None:
    assert h._nice_ceiling(value) == ceiling


def test_empty_charts_and_tables_say_so() -> None:
    assert "No data yet." in h.bar_chart("c", [], [])
    assert "Nothing to show." in h.hbar_chart("c", {})
    assert "Nothing to list." in h.table(["a"], [])


def test_a_long_table_says_how_many_rows_it_left_out() -> None:
    markup = h.table(["n"], [[i] for i in range(10)], limit=3)
    assert markup.count("<tr>") == 4  # header and three rows
    assert "7 more not shown." in markup


def test_progress_shows_overshoot_and_an_unknown_total() -> None:
    over = parse(h.progress("orders", 12, 10, key="o")).tags
    assert next(a for t, a in over if "data-progress" in a)["data-done"] == "12"
    assert "120.0%" in h.progress("orders", 12, 10)
    assert "no count from Shopify" in h.progress("orders", 3, None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (1234567, "1,234,567"),
        (Decimal("12.5"), "12.50"),
        (True, "yes"),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02 03:04 UTC"),
    ],
)
def test_values_read_as_a_person_reads_them(value: object, text: str) -> None:
    assert h.format_value(value) == text


def test_the_page_loads_in_chromium_without_a_console_message(tmp_path: Path) -> None:
    """Every block, hostile values included: the browser runs nothing, loads nothing."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from report_pages import SHOTS, Figures, chromium_or_skip, render  # noqa: PLC0415

    chromium_or_skip()
    page = tmp_path / "blocks.html"
    page.write_text(every_block(HOSTILE), encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    dom, console = render(page, SHOTS / "target-runtime-blocks.png", height=1200)
    assert console == []
    shown = Figures()
    shown.feed(dom)
    assert shown.scripts == 0
    assert HOSTILE in "".join(shown.text)
    # Both charts bear the hostile key; the last one read (the horizontal bars) is kept.
    assert shown.bars[HOSTILE] == {("", HOSTILE): "3"}
