"""Incremental streams on ``updated_at``: bookmark, edge set, bulk or paginated reads."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

from singer_sdk.helpers.types import Context

from tap_shopify_history import settings
from tap_shopify_history.manifest import WINDOW
from tap_shopify_history.progress import Progress
from tap_shopify_history.recent import RecentEmissions
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    format_time,
    iter_pages,
    parse_time,
)
from tap_shopify_history.shopify.mode import choose_extraction
from tap_shopify_history.streams.bulk_windows import BulkWindowStream


class IncrementalShopifyStream(BulkWindowStream):
    """Incremental on ``updated_at``; bulk jobs or cursor pages."""

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the bookmark is the last emitted ``updated_at``; lookback covers lag.

        Args:
            context: Stream partition.
        """
        return

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # Overridden because the lookback re-reads records older than the bookmark: the
        # SDK would move the bookmark back (or call it unsorted). Here the bookmark only
        # moves forward, and the emitted version joins the edge set in the same step, so
        # every STATE message is consistent with the records before it.
        state = self.get_context_state(context)
        updated_at = latest_record["updated_at"]
        bookmark = state.get("replication_key_value")
        if bookmark is None or updated_at > bookmark:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = bookmark = updated_at
        if self._recent.add(latest_record["id"], updated_at, bookmark):
            state["recent"] = self._recent.mapping
        if "bulk" in state:
            state["bulk"]["emitted_through"] = updated_at
        self.state_manager.is_flushed = False

    # Reading ------------------------------------------------------------------------

    def start_for(self, state: dict[str, Any], now: dt.datetime) -> str | None:
        """The first ``updated_at`` this run reads: bookmark minus lookback, or the history.

        Args:
            state: The stream state.
            now: The current time.

        Returns:
            An ISO time, or None for all time.
        """
        bookmark = state.get("replication_key_value")
        if not bookmark:
            return self.first_start(state, now)
        lookback = self._config_int("lookback_window_seconds", 60)
        return format_time(parse_time(bookmark) - dt.timedelta(seconds=lookback))

    def first_start(self, state: dict[str, Any], now: dt.datetime) -> str | None:
        """The oldest ``updated_at`` a first run reads: ``start_date``, else all time.

        Args:
            state: The stream state.
            now: Shopify's current time.

        Returns:
            An ISO time or None.
        """
        return settings.first_read_start(self.config)

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield new and changed records since the bookmark.

        Args:
            context: Stream partition.
        """
        state = self.get_context_state(context)
        lookback = self._config_int("lookback_window_seconds", 60)
        self._recent = RecentEmissions(state.get("recent"), lookback)
        state["recent"] = self._recent.mapping
        now = self.session.client.server_now()
        self._tap.preflight(now)  # type: ignore[attr-defined]
        bookmark = state.get("replication_key_value")
        start = self.start_for(state, now)
        end = self.session.window_end(settings.history_end(self.config))
        if self.sample_limit is not None:
            yield from self._read_sample(Window(start, end), self.sample_limit)
            return
        self._progress = Progress(self.logger, self.name)
        pending = ([state["bulk"]] if state.get("bulk") else []) + (state.get("bulk_queue") or [])
        self._open_part(pending[0].get("start") if pending else start, end)
        if pending:
            # A previous run was stopped with bulk jobs running: read those, not new ones.
            self.logger.info(
                "%s: resuming bulk operation %s from state", self.name, pending[0].get("id")
            )
            yield from self.resume_jobs(state, pending)
            last_end = pending[-1].get("end")
            if last_end is None or last_end >= end:
                self._finish()
                return
            start = last_end
        window = Window(start, end)
        if self._use_bulk(bookmark, window):
            yield from self._read_bulk(state, window)
        else:
            yield from self._read_pages(window)
        self._finish()

    def _open_part(self, start: str | None, end: str) -> None:
        self._tally = self._tap.manifest.open(  # type: ignore[attr-defined]
            self.name,
            WINDOW,
            selection=Window(start, end).search(self.search_terms()),
            window_start=start,
            window_end=end,
            now=format_time(self.session.client.server_now()),
        )

    def _finish(self) -> None:
        if self._tally is not None:
            self._tally.finished_at = format_time(self.session.client.server_now())
        if self._progress is not None and self._tally is not None:
            excluded = dict(self._tally.excluded)
            if self._outside_window:
                excluded["outside_window"] = self._outside_window
            self._progress.summary(self._tally.emitted, excluded)
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            self._recent.prune(bookmark)
            self.stream_state["recent"] = self._recent.mapping

    def _use_bulk(self, bookmark: str | None, window: Window) -> bool:
        mode = self.config.get("extraction_mode") or "auto"
        if mode != "auto":
            return bool(mode == "bulk")
        if bookmark is None:
            return True
        count = self._count(window)
        if count > self._config_int("bulk_threshold_records", 2500):
            return True
        limiter = self.session.client.limiter
        status = limiter.status
        if status is None:  # no answer seen yet (the count query gives one)
            return False
        measured = self.session.points_per_record.get(self.name)
        per_record = measured if measured is not None else self.points_per_record_estimate
        choice = choose_extraction(
            count, per_record, status.restore_rate, limiter.available() or 0.0
        )
        self.logger.info(
            "%s: %s for %s changed record(s): pages would wait %.0fs on the bucket at %.1f "
            "points each (%s), a bulk job takes about %.0fs",
            self.name,
            "bulk operation" if choice.use_bulk else "paginated read",
            f"{count:,}",
            choice.paged_seconds,
            per_record,
            "measured" if measured is not None else "estimated",
            choice.bulk_seconds,
        )
        return choice.use_bulk

    def _read_sample(self, window: Window, limit: int) -> Iterator[dict[str, Any]]:
        # A connection test: the first `limit` records from pages that size, no counts, no
        # bulk job, no manifest part (the run is not a sync a target may reconcile). It stops
        # at the limit itself, so the SDK has nothing to abort (and logs no error).
        self.logger.info("%s: connection test, reading %d record(s)", self.name, limit)
        sizer = PageSizer(cost_per_node=self.node_cost_estimate)
        search = window.search(self.search_terms())
        self._seen = set()
        pages = iter_pages(
            self.session.client, self.page_document(), self.entity, search, sizer, max_page=limit
        )

        def records() -> Iterator[dict[str, Any]]:
            for nodes in pages:
                self.complete_nodes(nodes, bulk=False)
                yield from self._emit(nodes, window)

        yield from itertools.islice(records(), limit)
        self._seen = None

    def _read_pages(self, window: Window) -> Iterator[dict[str, Any]]:
        before = self.exact_count(window)
        self.logger.info(
            "%s: paginated read of %s: %s counted by Shopify", self.name, window, f"{before:,}"
        )
        if self._progress is not None:
            self._progress.expected = before
        sizer = PageSizer(cost_per_node=self.node_cost_estimate)
        search = window.search(self.search_terms())
        self._seen = set()
        for nodes in iter_pages(
            self.session.client, self.page_document(), self.entity, search, sizer
        ):
            self.complete_nodes(nodes, bulk=False)
            yield from self._emit(nodes, window)
        self._seen = None
        if sizer.actual_per_node is not None:
            # The next auto decision of this stream uses what its pages really cost.
            self.session.points_per_record[self.name] = sizer.actual_per_node
        self._counted(window, before)
