"""The incremental stream machinery shared by ``customers`` and ``orders``.

Each run reads ``updated_at >= bookmark - lookback`` (windows of bulk jobs, or cursor pages),
emits records sorted by ``updated_at`` and drops only versions already emitted at the edge.
The bookmark, the edge set and the running bulk job live in the stream's state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context

from tap_shopify_history import settings
from tap_shopify_history.exceptions import ShopifySyncError
from tap_shopify_history.progress import Progress
from tap_shopify_history.recent import RecentEmissions
from tap_shopify_history.schemas import schema_path
from tap_shopify_history.session import ShopifySession
from tap_shopify_history.shopify.bulk import BulkOperation
from tap_shopify_history.shopify.errors import BulkAccessDeniedError, ShopifyError
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    format_time,
    iter_pages,
    parse_time,
    plan_windows,
    run_bulk_window,
)
from tap_shopify_history.shopify.queries import latest_updated_query

EMPTY_PARTIAL_RETRIES = 2


class ShopifyStream(Stream):
    """Common wiring: the store session, fast emission, Shopify errors made fatal."""

    primary_keys: ClassVar[list[str]] = ["shop_domain", "id"]
    # Records are built to match the schema exactly (tested), so the SDK's recursive
    # conformance pass is pure overhead on the hot path.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def session(self) -> ShopifySession:
        """The store session shared by all streams of the tap."""
        return self._tap.session  # type: ignore[attr-defined,no-any-return]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Yield records, turning protocol errors into one fatal error.

        Args:
            context: Stream partition (unused).

        Yields:
            Records.
        """
        try:
            yield from self.read(context)
        except ShopifyError as error:
            msg = f"{self.name}: {error}"
            raise ShopifySyncError(msg) from error

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield the stream's records.

        Args:
            context: Stream partition.
        """
        raise NotImplementedError


class IncrementalShopifyStream(ShopifyStream):
    """Incremental on ``updated_at``; bulk jobs or cursor pages."""

    replication_key = "updated_at"
    is_sorted = True
    entity: ClassVar[str]
    count_document: ClassVar[str]
    count_field: ClassVar[str]
    child_fields: ClassVar[dict[str, str]] = {}
    node_cost_estimate: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Attach the stream's schema file."""
        kwargs["schema"] = schema_path(self.name)
        super().__init__(*args, **kwargs)
        self._recent = RecentEmissions(None, 0)
        self._progress: Progress | None = None

    # Entity hooks ------------------------------------------------------------------
    def search_terms(self) -> tuple[str, ...]:
        """Extra search terms (e.g. ``test:false``)."""
        return ()

    def page_document(self) -> str:
        """The paginated query document."""
        raise NotImplementedError

    def bulk_query(self, search: str | None) -> str:
        """The bulk query for one window.

        Args:
            search: The window's search filter.
        """
        raise NotImplementedError

    def to_record(self, node: dict[str, Any]) -> dict[str, Any]:
        """Map one node to a record.

        Args:
            node: The GraphQL node.
        """
        raise NotImplementedError

    def complete_nodes(self, nodes: list[dict[str, Any]], *, bulk: bool) -> None:
        """Fetch what a page or bulk result left out (in place).

        Args:
            nodes: The nodes.
            bulk: Whether they come from a bulk result.
        """

    def before_read(self, start: str | None, now: dt.datetime) -> None:
        """Checks before reading (scopes).

        Args:
            start: The first ``updated_at`` to read.
            now: The current time.
        """

    # SDK hooks ----------------------------------------------------------------------
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
        if self._progress is not None:
            self._progress.tick()

    # Reading ------------------------------------------------------------------------
    def _config_int(self, key: str, default: int) -> int:
        value = self.config.get(key)
        return default if value is None else int(value)

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield new and changed records since the bookmark.

        Args:
            context: Stream partition.
        """
        state = self.get_context_state(context)
        lookback = self._config_int("lookback_window_seconds", 60)
        self._recent = RecentEmissions(state.get("recent"), lookback)
        state["recent"] = self._recent.mapping
        now = dt.datetime.now(dt.UTC)
        bookmark = state.get("replication_key_value")
        start = (
            format_time(parse_time(bookmark) - dt.timedelta(seconds=lookback))
            if bookmark
            else settings.history_start(self.config, now)
        )
        end = settings.history_end(self.config)
        self.before_read(start, now)
        self._progress = Progress(self.logger, self.name)
        pending = state.get("bulk")
        if pending:
            yield from self._resume_bulk(state, pending)
            if pending.get("end") is None or (end is not None and pending["end"] >= end):
                self._finish()
                return
            start = pending["end"]
        window = Window(start, end)
        if self._use_bulk(bookmark, window):
            yield from self._read_bulk(state, window)
        else:
            yield from self._read_pages(window)
        self._finish()

    def _finish(self) -> None:
        if self._progress is not None:
            self._progress.log(final=True)
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            self._recent.prune(bookmark)
            self.stream_state["recent"] = self._recent.mapping

    def _count(self, window: Window) -> int:
        data = self.session.client.execute(
            self.count_document, {"query": window.search(self.search_terms())}, estimated_cost=2
        )
        return int((data.get(self.count_field) or {}).get("count") or 0)

    def _use_bulk(self, bookmark: str | None, window: Window) -> bool:
        mode = self.config.get("extraction_mode") or "auto"
        if mode != "auto":
            return bool(mode == "bulk")
        if bookmark is None:
            return True
        return self._count(window) > self._config_int("bulk_threshold_records", 2500)

    def _emit(
        self, nodes: Iterable[dict[str, Any]], skip_before: str | None = None
    ) -> Iterator[dict[str, Any]]:
        include_test = bool(self.config.get("include_test_orders"))
        for node in nodes:
            record = self.to_record(node)
            if record.get("test") and not include_test:
                continue
            updated_at = record["updated_at"]
            if skip_before is not None and updated_at < skip_before:
                continue
            if self._recent.already_emitted(record["id"], updated_at):
                continue
            yield record

    def _read_pages(self, window: Window) -> Iterator[dict[str, Any]]:
        self.logger.info("%s: paginated read of %s", self.name, window)
        sizer = PageSizer(cost_per_node=self.node_cost_estimate)
        search = window.search(self.search_terms())
        for nodes in iter_pages(
            self.session.client, self.page_document(), self.entity, search, sizer
        ):
            self.complete_nodes(nodes, bulk=False)
            yield from self._emit(nodes)

    def _read_bulk(self, state: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        planned = self._plan(window)
        if self._progress is not None:
            self._progress.expected = sum(count for _, count in planned) or None
        for part, _ in planned:
            yield from self._run_window(state, part, resume_id=None, skip_before=None)

    def _plan(self, window: Window) -> list[tuple[Window, int]]:
        max_records = self._config_int("bulk_window_max_records", 100_000)
        total = self._count(window)
        if total <= max_records:
            return [(window, total)] if total else []
        lower = window.start or self._edge_time(reverse=False)
        upper = window.end or format_time(
            parse_time(self._edge_time(reverse=True)) + dt.timedelta(seconds=1)
        )
        parts = plan_windows(Window(lower, upper), self._count, max_records)
        if parts and window.end is None:
            # Keep the last window open so records changed while we run are not cut off.
            parts[-1] = Window(parts[-1].start, None)
        return [(part, max_records) for part in parts]

    def _edge_time(self, *, reverse: bool) -> str:
        document = latest_updated_query(self.entity)
        if not reverse:
            document = document.replace("reverse: true", "reverse: false")
        data = self.session.client.execute(
            document, {"query": " AND ".join(self.search_terms()) or None}
        )
        nodes = data[self.entity]["nodes"]
        return (
            format_time(parse_time(nodes[0]["updatedAt"]))
            if nodes
            else format_time(dt.datetime.now(dt.UTC))
        )

    def _resume_bulk(
        self, state: dict[str, Any], pending: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        self.logger.info("%s: resuming bulk operation %s from state", self.name, pending["id"])
        window = Window(pending.get("start"), pending.get("end"))
        yield from self._run_window(
            state, window, resume_id=pending["id"], skip_before=pending.get("emitted_through")
        )

    def _run_window(
        self,
        state: dict[str, Any],
        window: Window,
        *,
        resume_id: str | None,
        skip_before: str | None,
    ) -> Iterator[dict[str, Any]]:
        empty_partials = 0
        while True:
            try:
                result = run_bulk_window(
                    self.session.bulk,
                    self.session.client,
                    self.bulk_query(window.search(self.search_terms())),
                    self.child_fields,
                    resume_id=resume_id,
                    on_submit=partial(self._checkpoint_bulk, state, window=window),
                    on_poll=self._on_poll,
                )
            except BulkAccessDeniedError:
                self._probe_access(window)
                raise
            roots = sorted(result.roots, key=lambda n: (n["updatedAt"], n["id"]))
            self.complete_nodes(roots, bulk=True)
            if self._progress is not None:
                self._progress.position = str(window)
            if not result.partial:
                yield from self._emit(roots, skip_before)
                state.pop("bulk", None)
                return
            if not roots:
                # Failed before any usable data: run the window again, a bounded number
                # of times.
                empty_partials += 1
                if empty_partials > EMPTY_PARTIAL_RETRIES:
                    msg = f"bulk operation {result.operation.id} failed with no usable data"
                    raise ShopifySyncError(msg)
                resume_id = None
                continue
            # Partial data is a prefix in updatedAt order; the last second may be cut
            # short, so emit what is before it and re-request from it.
            last = roots[-1]["updatedAt"]
            yield from self._emit((n for n in roots if n["updatedAt"] < last), skip_before)
            state.pop("bulk", None)
            window = Window(format_time(parse_time(last)), window.end)
            resume_id, skip_before = None, None

    def _probe_access(self, window: Window) -> None:
        # A bulk job only says ACCESS_DENIED; one tiny page names the scope or the
        # protected fields (and raises that clearer error).
        variables = {"first": 1, "after": None, "query": window.search(self.search_terms())}
        self.session.client.execute(self.page_document(), variables, estimated_cost=100)

    def _checkpoint_bulk(self, state: dict[str, Any], operation_id: str, window: Window) -> None:
        # The job id goes to state at once, so a killed run resumes this job.
        previous = state.get("bulk") or {}
        state["bulk"] = {"id": operation_id, "start": window.start, "end": window.end}
        if previous.get("emitted_through"):
            # A resumed job that had to be re-run: what was emitted stays emitted.
            state["bulk"]["emitted_through"] = previous["emitted_through"]
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _on_poll(self, operation: BulkOperation) -> None:
        self.logger.info(
            "%s: bulk operation %s %s, %d objects so far",
            self.name,
            operation.id,
            operation.status,
            operation.object_count,
        )
