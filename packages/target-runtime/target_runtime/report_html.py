"""Building blocks of a self-contained HTML sync report: page shell, tiles, tables, SVG charts.

Each target assembles its own report from these; nothing here knows a product's tables. The
page needs no network and runs no script: styles are inline, charts are SVG drawn here, and
a Content-Security-Policy forbids scripts and remote loads, so even a value that escaped
escaping could not run. Every value passes through :func:`escape`.

    from target_runtime import report_html as h

    body = [
        h.section("This sync", h.tiles([h.Tile("Orders synced", 1200, "orders_synced")])),
        h.section("Orders per month", h.bar_chart("orders", ["2026-01"], [h.Series("synced",
                  [1200])])),
    ]
    html = h.page("Loyalty sync report", body, subtitle="demo-store.myshopify.com")

Figures carry ``data-figure`` / ``data-value`` attributes so a browser test can read them
from the DOM and compare them with the database.
"""

from __future__ import annotations

import functools
import html
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "PALETTE",
    "Series",
    "Tile",
    "bar_chart",
    "collapsible",
    "escape",
    "format_value",
    "hbar_chart",
    "month_key",
    "monthly_chart",
    "page",
    "progress",
    "report_database_url",
    "section",
    "status_badge",
    "table",
    "tiles",
    "when",
    "write_report",
]

#: Series colours (colour-blind-safe, after Okabe and Ito), in the order series are given.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_GOOD = {"succeeded", "ok", "pass", "passed", "delivered", "sent"}
_BAD = {"failed", "fail", "refused", "error", "stopped", "abandoned", "dead"}


def report_database_url(
    given: str | None, *, variable: str, default: str, validate: Callable[[str], str]
) -> str:
    """The database a ``report`` reads: ``--database-url``, else ``variable``, else ``default``.

    ``meltano invoke <plugin>:report`` exports the plugin's settings as environment variables
    (``TARGET_CRM_DATABASE_URL``), so the configured database is read without its URL, which
    may hold a password, ever standing on a command line. A given but blank URL (an unset
    variable behind it) goes to ``validate``, which refuses it as the target itself does.
    """
    if given is None and variable not in os.environ:
        return default
    return validate(given if given is not None else os.environ[variable])


def write_report(text: str, output: Path | None) -> None:
    """The report to ``output`` (its folder created; the path said on stderr), else stdout."""
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    sys.stderr.write(f"report written to {output}\n")


def format_value(value: Any) -> str:
    """A value as a person reads it: counts with separators, dates without noise, '-' for none."""
    if value is None or value == "":
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float | Decimal):
        text = f"{value:,.2f}"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M UTC")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return text


def escape(value: Any) -> str:
    """:func:`format_value`, escaped for HTML text and attribute values."""
    return html.escape(format_value(value), quote=True)


def when(value: str | None) -> str:
    """An ISO timestamp as ``2026-12-03 10:22 UTC`` (what the reports store is UTC)."""
    if not value:
        return "-"
    return value[:16].replace("T", " ") + " UTC"


def month_key(value: datetime | date | str | None) -> str | None:
    """``YYYY-MM`` of a timestamp (an ISO string is read as such); ``None`` for none."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


@dataclass(frozen=True)
class Tile:
    """One headline figure: its label, value, a stable key for tests and an optional hint."""

    label: str
    value: Any
    key: str
    hint: str = ""


@dataclass(frozen=True)
class Series:
    """One series of a bar chart: its name and one value per category."""

    name: str
    values: Sequence[int | float | Decimal]


def tiles(items: Iterable[Tile]) -> str:
    """A row of headline figures."""
    cells = [
        f'<div class="tile" data-figure="{escape(t.key)}" data-value="{escape(_raw(t.value))}">'
        f'<div class="tile-value">{escape(t.value)}</div>'
        f'<div class="tile-label">{escape(t.label)}</div>'
        + (f'<div class="tile-hint">{escape(t.hint)}</div>' if t.hint else "")
        + "</div>"
        for t in items
    ]
    return f'<div class="tiles">{"".join(cells)}</div>'


def section(title: str, body: str, *, note: str = "", key: str = "") -> str:
    """A titled block of the page; ``body`` is HTML built by this module's functions."""
    anchor = f' id="{escape(key)}"' if key else ""
    lead = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section{anchor}><h2>{escape(title)}</h2>{lead}{body}</section>"


def collapsible(title: str, body: str, *, count: int | None = None, opened: bool = False) -> str:
    """A block folded under its title (HTML ``details``: no script), for long record lists."""
    label = escape(title) + (
        f' <span class="count">({count:,})</span>' if count is not None else ""
    )
    return f"<details{' open' if opened else ''}><summary>{label}</summary>{body}</details>"


def status_badge(status: Any) -> str:
    """A coloured label for an outcome (green for success, red for failure, grey otherwise)."""
    word = format_value(status)
    tone = "good" if word.lower() in _GOOD else "bad" if word.lower() in _BAD else "neutral"
    return f'<span class="badge {tone}">{html.escape(word)}</span>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    key: str = "",
    numeric: Iterable[int] = (),
    html_columns: Iterable[int] = (),
    empty: str = "Nothing to list.",
    limit: int | None = None,
) -> str:
    """A table; every cell is escaped except those in ``html_columns`` (built here, e.g. badges).

    Args:
        headers: Column titles.
        rows: Cell values per row.
        key: ``data-table`` attribute, for tests.
        numeric: Right-aligned columns.
        html_columns: Columns whose cells are already HTML from this module.
        empty: What stands in for an empty table.
        limit: Show at most this many rows and say how many were left out.
    """
    right, raw = set(numeric), set(html_columns)
    all_rows = list(rows)
    shown = all_rows if limit is None else all_rows[:limit]
    if not all_rows:
        return f'<p class="empty" data-table="{escape(key)}">{escape(empty)}</p>'
    head = "".join(
        f'<th class="{"num" if i in right else ""}">{escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i in right else ""}">{cell if i in raw else escape(cell)}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in shown
    )
    more = (
        f'<p class="note">{len(all_rows) - len(shown):,} more not shown.</p>'
        if len(shown) < len(all_rows)
        else ""
    )
    return (
        f'<table data-table="{escape(key)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{more}"
    )


def progress(label: str, done: int, total: int | None, *, key: str = "") -> str:
    """A bar showing ``done`` of ``total`` (Shopify's count); over 100% is shown, not hidden."""
    if not total:
        share, text = 0.0, f"{done:,} (no count from Shopify)"
    else:
        share = done / total
        text = f"{done:,} of {total:,} ({share:.1%})"
    width = min(share, 1.0) * 100
    tone = "good" if total and done == total else "warn"
    return (
        f'<div class="progress" data-progress="{escape(key)}" data-done="{done}" '
        f'data-total="{"" if total is None else total}">'
        f'<div class="progress-label"><span>{escape(label)}</span><span>{escape(text)}</span></div>'
        f'<div class="progress-track"><div class="progress-fill {tone}" '
        f'style="width:{width:.1f}%"></div></div></div>'
    )


def monthly_chart(
    key: str,
    by_month: Mapping[str, Sequence[Any]],
    columns: Sequence[tuple[str, int]],
    *,
    empty: str,
) -> str:
    """Bars per month from a row of figures per month: one series per (name, position)."""
    months = list(by_month)
    series = [Series(name, [by_month[m][at] for m in months]) for name, at in columns]
    return bar_chart(key, months, series, empty=empty)


def bar_chart(
    key: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    height: int = 220,
    empty: str = "No data yet.",
) -> str:
    """Grouped vertical bars, one group per category (months, runs), as inline SVG."""
    if not categories or not series:
        return f'<p class="empty" data-chart="{escape(key)}">{escape(empty)}</p>'
    top = _nice_ceiling(max((float(v) for s in series for v in s.values), default=0.0))
    # Groups wide enough for their labels (about 7 px a character) while the chart fits.
    widest = max(64, 7 * max(len(c) for c in categories) + 8)
    left, bottom, group = 56, 28, max(18, min(widest, 1040 // len(categories)))
    width = left + group * len(categories) + 8
    plot = height - bottom - 10
    bar = max(3.0, (group - 6) / len(series))
    label_chars = max(7, group * max(1, -(-52 // group)) // 7)
    parts = [_gridlines(left, width, plot, top)]
    for ci, category in enumerate(categories):
        x0 = left + ci * group + 3
        for si, s in enumerate(series):
            value = s.values[ci]
            h = 0.0 if top == 0 else float(value) / top * plot
            parts.append(
                f'<rect class="bar" x="{x0 + si * bar:.1f}" y="{10 + plot - h:.1f}" '
                f'width="{bar - 1:.1f}" height="{h:.1f}" fill="{PALETTE[si % len(PALETTE)]}" '
                f'data-series="{escape(s.name)}" data-category="{escape(category)}" '
                f'data-value="{escape(_raw(value))}"><title>{escape(s.name)}, '
                f"{escape(category)}: {escape(value)}</title></rect>"
            )
        # A label needs about 52 px: with narrow groups only every n-th category is named.
        if ci % max(1, -(-52 // group)) == 0:
            parts.append(
                f'<text class="axis" x="{x0 + (group - 6) / 2:.1f}" y="{height - 10}" '
                f'text-anchor="middle">{escape(_shorten(category, label_chars))}</text>'
            )
    svg = (
        f'<svg class="chart wide" data-chart="{escape(key)}" role="img" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
    return svg + _legend(series)


def hbar_chart(key: str, values: Mapping[str, int], *, empty: str = "Nothing to show.") -> str:
    """Horizontal bars, one per label (a distribution: tiers, reasons), largest first."""
    if not values:
        return f'<p class="empty" data-chart="{escape(key)}">{escape(empty)}</p>'
    items = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    top = max(v for _, v in items) or 1
    label_width, bar_width, row = 220, 420, 26
    height = row * len(items) + 4
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        w = value / top * bar_width
        parts.append(
            f'<text class="axis" x="{label_width - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_shorten(label))}</text>"
            f'<rect class="bar" x="{label_width}" y="{y}" width="{max(w, 1):.1f}" height="18" '
            f'fill="{PALETTE[0]}" data-category="{escape(label)}" data-value="{value}">'
            f"<title>{escape(label)}: {escape(value)}</title></rect>"
            f'<text class="value" x="{label_width + w + 6:.1f}" y="{y + 15}">{escape(value)}</text>'
        )
    width = label_width + bar_width + 80
    return (
        f'<svg class="chart" data-chart="{escape(key)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(parts)}</svg>"
    )


def page(title: str, sections: Sequence[str], *, subtitle: str = "", generated: str = "") -> str:
    """The whole document: the sections under a header, with the page's styles inline."""
    sub = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    foot = f"<footer>Generated {escape(generated)}</footer>" if generated else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # No script may run and nothing may load from anywhere: the report is one file.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_style()}</style></head>"
        f"<body><header><h1>{escape(title)}</h1>{sub}</header><main>"
        f"{''.join(sections)}</main>{foot}</body></html>\n"
    )


@functools.cache
def _style() -> str:
    # Kept beside this module so the page's look is edited as CSS, not as a Python string.
    return resources.files("target_runtime").joinpath("report.css").read_text(encoding="utf-8")


def _raw(value: Any) -> Any:
    # data-value holds the plain figure (no thousands separators) for machine reading.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _shorten(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def _nice_step(value: float, ticks: int = 5) -> float:
    """A round gridline step (1, 2 or 5 times a power of ten) giving at most ``ticks`` lines."""
    if value <= 0:
        return 1.0
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def _nice_ceiling(value: float) -> float:
    """The axis top: the first whole number of round steps at or above ``value``."""
    if value <= 0:
        return 0.0
    step = _nice_step(value)
    return math.ceil(value / step - 1e-9) * step


def _gridlines(left: int, width: int, plot: int, top: float) -> str:
    if top <= 0:
        return ""
    step = _nice_step(top)
    lines = []
    for i in range(round(top / step) + 1):
        y = 10 + plot - plot * (i * step) / top
        tick = i * step
        label = f"{int(tick):,}" if float(tick).is_integer() else f"{tick:g}"
        lines.append(
            f'<line class="grid" x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
    return "".join(lines)


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f"{escape(s.name)}</span>"
        for i, s in enumerate(series)
    )
    return f'<div class="legend">{items}</div>'
