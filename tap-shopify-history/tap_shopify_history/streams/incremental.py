"""Incremental streams on ``updated_at``: bookmark, edge set, bulk or paginated reads."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

from singer_sdk.helpers.types import Context

from tap_shopify_history import settings
from tap_shopify_history.manifest import WEBHOOKS, WINDOW
from tap_shopify_history.progress import Progress
from tap_shopify_history.recent import RecentEmissions
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    format_time,
    iter_pages,
    parse_time,
)
from tap_shopify_history.shopify.lookup import fetch_by_ids
from tap_shopify_history.shopify.mode import choose_extraction
from tap_shopify_history.streams.bulk_windows import BulkWindowStream
from tap_shopify_history.webhook_queue import QueueRead

NOT_FOUND = "not_found"
DELETED = "deleted"
# What this stream's pages really cost a record (actualQueryCost per node), kept in its
# state so the next run's `auto` choice starts from the store's measured cost, not a model.
PAGE_POINTS_KEY = "page_points_per_record"


class IncrementalShopifyStream(BulkWindowStream):
    """Incremental on ``updated_at``; bulk jobs or cursor pages."""

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the bookmark is the last emitted ``updated_at``; lookback covers lag.

        Args:
            context: Stream partition.
        """
        return

    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # Overridden because the lookback re-reads records older than the bookmark: the
        # SDK would move the bookmark back (or call it unsorted). Here the bookmark only
        # moves forward, and the emitted version joins the edge set in the same step, so
        # every STATE message is consistent with the records before it.
        if self._hinting:
            # A re-fetched record is the customer's or order's current state, not a point in
            # the `updated_at` walk: it must not move the bookmark past records not yet read.
            return
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
        queue = None if self.sample_limit is not None else self.tap.queue_read  # type: ignore[attr-defined]
        if queue is not None:
            yield from self._read_hinted(queue)
            self._announced = queue.hinted(self.name)
            if self.tap.webhook_only:  # type: ignore[attr-defined]
                return
        now = self.session.client.server_now()
        self.tap.preflight(now)  # type: ignore[attr-defined]
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
        self._tally = self.tap.manifest.open(  # type: ignore[attr-defined]
            self.name,
            WINDOW,
            selection=Window(start, end).search(self.search_terms()),
            window_start=start,
            window_end=end,
            now=format_time(self.session.client.server_now()),
        )
        if self._announced is not None and self._tally.unannounced is None:
            self._tally.unannounced = 0

    # The webhook path ---------------------------------------------------------------

    def lookup(self) -> tuple[str, str]:
        """The query root and selection of one lookup by id (the pages' selection)."""
        raise NotImplementedError

    def hinted_ids(self, queue: QueueRead) -> tuple[int, ...]:
        """The ids of this stream the queue hinted.

        Args:
            queue: The run's read of the queue.
        """
        return tuple(sorted(queue.hinted(self.name)))

    def _read_hinted(self, queue: QueueRead) -> Iterator[dict[str, Any]]:
        # The hinted ids fetched by id: their current state, whatever order the webhooks
        # came in. Part `webhooks`: Shopify's count is the ids asked for, and each is
        # emitted or excluded with a reason (`not_found`, `deleted`, the selection rules).
        client = self.session.client
        ids = self.hinted_ids(queue)
        tally = self.tap.manifest.open(  # type: ignore[attr-defined]
            self.name,
            WEBHOOKS,
            selection=f"webhook queue positions {queue.start + 1}-{queue.position}",
            window_start=None,
            window_end=None,
            now=format_time(client.server_now()),
        )
        tally.counted(len(ids), len(ids))
        rules = self.selection_rules()
        root, selection = self.lookup()
        found: list[dict[str, Any]] = []
        for numeric_id, node in fetch_by_ids(client, root, ids, selection, self.node_cost_estimate):
            if node is not None:
                found.append(node)
            elif self.name == "customers" and numeric_id in queue.deleted:
                self.tap.gone_customers.add(numeric_id)  # type: ignore[attr-defined]
                tally.exclude(DELETED)
            else:
                tally.exclude(NOT_FOUND)
        self.complete_nodes(found, bulk=False)
        self._tally, self._hinting = tally, True
        try:
            for node in found:
                record = self.to_record(node)
                reason = rules.exclusion(record)
                if reason is None:
                    yield record
                else:
                    tally.exclude(reason)
        finally:
            self._tally, self._hinting = None, False
        tally.finished_at = format_time(client.server_now())
        self.logger.info(
            "%s: webhook queue: %d hinted, %d emitted, excluded %s",
            self.name,
            len(ids),
            tally.emitted,
            dict(sorted(tally.excluded.items())) or "none",
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
        per_record, source = self.page_points_per_record()
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
            source,
            choice.bulk_seconds,
        )
        return choice.use_bulk

    def page_points_per_record(self) -> tuple[float, str]:
        """What a record of this stream's pages costs, and where that figure comes from.

        This run's pages if it read any, else the figure an earlier run measured (kept in
        state), else the cost model of the page query (``queries.order_page_points``).

        Returns:
            Actual points per record, and ``measured``, ``measured by an earlier run`` or
            ``estimated from the query``.
        """
        measured = self.session.points_per_record.get(self.name)
        if measured is not None:
            return measured, "measured"
        kept = self.stream_state.get(PAGE_POINTS_KEY)
        if isinstance(kept, int | float) and not isinstance(kept, bool) and kept > 0:
            return float(kept), "measured by an earlier run"
        return self.points_per_record_estimate, "estimated from the query"

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
            # The next auto decision of this stream (this run's, and the next run's through
            # its state) uses what its pages really cost.
            self.session.points_per_record[self.name] = sizer.actual_per_node
            self.stream_state[PAGE_POINTS_KEY] = round(sizer.actual_per_node, 2)
        self._counted(window, before)
