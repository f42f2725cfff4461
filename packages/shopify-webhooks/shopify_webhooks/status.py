"""The queue's counts by topic, as ``shopify-webhooks status`` shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopify_webhooks.queue import ORIGIN_LOCAL

COLUMNS = ("received", "duplicate", "ignored", "local")


def status_rows(counts: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per topic: deliveries received, duplicates dropped, ignored, created locally.

    ``received`` and ``ignored`` count stored rows (local ones included); ``duplicate``
    counts deliveries answered 200 without storing anything new; ``local`` counts rows the
    command line created (they are also in ``received``).
    """
    by_topic: dict[str, dict[str, Any]] = {}
    for row in counts:
        entry = by_topic.setdefault(row.topic, {"topic": row.topic} | dict.fromkeys(COLUMNS, 0))
        entry[row.state] += int(row.deliveries)
        entry["duplicate"] += int(row.duplicates)
        if row.origin == ORIGIN_LOCAL:
            entry["local"] += int(row.deliveries)
    return [by_topic[topic] for topic in sorted(by_topic)]


def status_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table with a total line."""
    total = {"topic": "total"} | {c: sum(int(r[c]) for r in rows) for c in COLUMNS}
    width = max([len("topic"), *(len(str(r["topic"])) for r in [*rows, total])])
    lines = ["topic".ljust(width) + "".join(c.rjust(11) for c in COLUMNS)]
    lines += [
        str(r["topic"]).ljust(width) + "".join(str(r[c]).rjust(11) for c in COLUMNS)
        for r in [*rows, total]
    ]
    return "\n".join(lines)
