"""The run's ``sync_manifest``: per stream and part, Shopify's counts, emitted, excluded.

One row per stream and part (``window``: the incremental or backfill read; ``refund_sweep``).
A part read as several windows (bulk jobs, a resumed job and the rest) adds each window's
counts, taken just before and just after that window's read, so the part reconciles when
each of its windows does: ``after <= emitted + sum(excluded) <= before``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WINDOW = "window"
REFUND_SWEEP = "refund_sweep"
# The ids the webhook queue hinted, fetched by id: Shopify's count is the ids asked for.
WEBHOOKS = "webhooks"


@dataclass
class PartTally:
    """What one part of one stream read, filled in while it runs."""

    stream: str
    part: str
    selection: str
    window_start: str | None
    window_end: str | None
    started_at: str
    finished_at: str | None = None
    shopify_count_before: int = 0
    shopify_count_after: int = 0
    emitted: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    # Records a window read emitted that no webhook announced (None: no queue configured).
    unannounced: int | None = None

    def counted(self, before: int, after: int) -> None:
        """Add one window's counts (before and after its read).

        Args:
            before: Shopify's count just before the read.
            after: The same count just after.
        """
        self.shopify_count_before += before
        self.shopify_count_after += after

    def exclude(self, reason: str) -> None:
        """Count one record Shopify counted that is not emitted.

        Args:
            reason: ``test_order``, ``outside_sync_range``, ``already_emitted``,
                ``refunds_unchanged``, ``not_found`` or ``deleted``.
        """
        self.excluded[reason] += 1

    def reconciles(self) -> bool:
        """The source rule: ``after <= emitted + sum(excluded) <= before``.

        Returns:
            Whether the part reconciles.
        """
        accounted = self.emitted + sum(self.excluded.values())
        return self.shopify_count_after <= accounted <= self.shopify_count_before

    def record(self, shop_domain: str, run_id: str) -> dict[str, Any]:
        """The ``sync_manifest`` record of this part.

        Args:
            shop_domain: The shop's ``myshopifyDomain``.
            run_id: This tap run's UUID.

        Returns:
            The record.
        """
        record: dict[str, Any] = {
            "shop_domain": shop_domain,
            "run_id": run_id,
            "stream": self.stream,
            "part": self.part,
            "selection": self.selection,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "shopify_count_before": self.shopify_count_before,
            "shopify_count_after": self.shopify_count_after,
            "emitted": self.emitted,
            "excluded": dict(sorted(self.excluded.items())),
            "started_at": self.started_at,
            "finished_at": self.finished_at or self.started_at,
        }
        if self.unannounced is not None:
            record["unannounced"] = self.unannounced
        return record


@dataclass
class Manifest:
    """The parts of one tap run, in the order they were read."""

    run_id: str
    parts: dict[tuple[str, str], PartTally] = field(default_factory=dict)

    def open(
        self,
        stream: str,
        part: str,
        *,
        selection: str | None,
        window_start: str | None,
        window_end: str | None,
        now: str,
    ) -> PartTally:
        """Start (or return the already started) tally of a stream's part.

        Args:
            stream: The stream name.
            part: ``window``, ``refund_sweep`` or ``webhooks``.
            selection: The Shopify search the count and the read share (None: everything).
            window_start: The ``updated_at`` range start (None: open).
            window_end: Its exclusive end (None: open).
            now: When the part starts.

        Returns:
            The tally to fill in.
        """
        key = (stream, part)
        if key not in self.parts:
            self.parts[key] = PartTally(
                stream, part, selection or "", window_start, window_end, started_at=now
            )
        return self.parts[key]

    def records(self, shop_domain: str) -> list[dict[str, Any]]:
        """Every part's record.

        Args:
            shop_domain: The shop's ``myshopifyDomain``.

        Returns:
            The ``sync_manifest`` records, in read order.
        """
        return [tally.record(shop_domain, self.run_id) for tally in self.parts.values()]
