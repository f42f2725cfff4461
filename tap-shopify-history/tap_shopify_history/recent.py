"""The bookmark edge: which (id, updated_at) pairs were already emitted near the bookmark.

Each run re-reads from ``bookmark - lookback`` with ``>=`` (Shopify's search index lags, and
many records share one second). A record is dropped only if this exact version was already
emitted, so nothing at the edge is lost and nothing is re-emitted run after run.
"""

from __future__ import annotations

from datetime import timedelta

from tap_shopify_history.shopify.extract import format_time, parse_time


class RecentEmissions:
    """``id -> updated_at`` of records emitted within ``lookback`` of the bookmark."""

    def __init__(self, mapping: dict[str, str] | None, lookback_seconds: int) -> None:
        """Start from the mapping kept in state.

        Args:
            mapping: ``{"<id>": "<updated_at>"}`` from state, or None.
            lookback_seconds: The lookback window.
        """
        self.mapping: dict[str, str] = dict(mapping or {})
        self._lookback = timedelta(seconds=lookback_seconds)
        self._next_prune = 2 * len(self.mapping) + 1000

    def already_emitted(self, record_id: int, updated_at: str) -> bool:
        """Whether this version of the record was emitted before.

        Args:
            record_id: The record's id.
            updated_at: Its ``updated_at``.

        Returns:
            True when it must be dropped.
        """
        return self.mapping.get(str(record_id)) == updated_at

    def add(self, record_id: int, updated_at: str, bookmark: str) -> bool:
        """Remember an emitted record; prune entries older than ``bookmark - lookback``.

        Args:
            record_id: The record's id.
            updated_at: Its ``updated_at``.
            bookmark: The stream's bookmark after this record.

        Returns:
            True when the mapping was rebuilt (the caller stores the new one in state).
        """
        self.mapping[str(record_id)] = updated_at
        if len(self.mapping) < self._next_prune:
            return False
        self.prune(bookmark)
        return True

    def prune(self, bookmark: str) -> None:
        """Drop entries a future run cannot re-read (older than ``bookmark - lookback``).

        Args:
            bookmark: The stream's bookmark.
        """
        cutoff = format_time(parse_time(bookmark) - self._lookback)
        self.mapping = {k: v for k, v in self.mapping.items() if v >= cutoff}
        # Amortised O(1) per record: prune again only once the mapping doubles.
        self._next_prune = 2 * len(self.mapping) + 1000
