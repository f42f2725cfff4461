"""Bulk windows: plan by count, submit (several at once where the API allows), resume
from state, emit sorted, reuse partial data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from typing import Any

from tap_shopify_history.exceptions import ShopifySyncError
from tap_shopify_history.shopify.bulk import BulkOperation
from tap_shopify_history.shopify.errors import BulkAccessDeniedError, BulkOperationError
from tap_shopify_history.shopify.extract import (
    Window,
    count_exactly,
    count_window,
    format_time,
    parse_time,
    plan_windows,
    run_bulk_window,
)
from tap_shopify_history.shopify.queries import latest_updated_query
from tap_shopify_history.streams.base import DEFAULT_WINDOW, EntityStream

EMPTY_PARTIAL_RETRIES = 2


class BulkWindowStream(EntityStream):
    """Reads ``updated_at`` windows with bulk operations."""

    def _read_bulk(self, state: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        planned = self._plan(window)
        if self._progress is not None:
            self._progress.expected = sum(count for _, count in planned) or None
        parts = [part for part, _ in planned]
        slots = self.session.bulk_concurrency
        while parts:
            batch, parts = parts[:slots], parts[slots:]
            if len(batch) == 1:
                yield from self._run_window(state, batch[0], resume_id=None, skip_before=None)
                continue
            yield from self.resume_jobs(state, self._submit_all(state, batch))

    def _submit_all(self, state: dict[str, Any], windows: list[Window]) -> list[dict[str, Any]]:
        # From API 2026-01 Shopify runs several bulk queries of one app at once: submit
        # them together, checkpoint every id, then read the results in window order.
        jobs = []
        for window in windows:
            before = self.exact_count(window)  # counted before the job reads
            query = self.bulk_query(window.search(self.search_terms()))
            operation_id = self.session.bulk.submit(query)
            jobs.append(
                {"id": operation_id, "start": window.start, "end": window.end, "count": before}
            )
        state["bulk"], state["bulk_queue"] = jobs[0], jobs[1:]
        self.state_manager.is_flushed = False
        self._write_state_message()
        return jobs

    def resume_jobs(
        self, state: dict[str, Any], jobs: list[dict[str, Any]]
    ) -> Iterator[dict[str, Any]]:
        """Read submitted jobs in window order (after a restart, the ids in state).

        Args:
            state: The stream state.
            jobs: ``{"id", "start", "end", "count"[, "emitted_through"]}`` per job, in window
                order (``count``: Shopify's count of the window just before the job ran).

        Yields:
            Records.
        """
        for index, job in enumerate(jobs):
            state["bulk"] = job
            state["bulk_queue"] = jobs[index + 1 :]
            self.logger.info("%s: reading bulk operation %s", self.name, job["id"])
            window = Window(job.get("start"), job.get("end"))
            yield from self._run_window(
                state,
                window,
                resume_id=job["id"],
                skip_before=job.get("emitted_through"),
                count_before=job.get("count"),
            )
        state.pop("bulk_queue", None)

    def _plan(self, window: Window) -> list[tuple[Window, int]]:
        max_records = self._config_int("bulk_window_max_records", DEFAULT_WINDOW)
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

    def exact_count(self, window: Window, extra: tuple[str, ...] = ()) -> int:
        """Shopify's exact count of a window (capped counts are split and summed).

        Args:
            window: The ``updated_at`` window.
            extra: More search terms (the refund sweep's ``created_at`` range).

        Returns:
            The number of records Shopify holds in it for the stream's search terms.
        """
        terms = (*self.search_terms(), *extra)

        def count(part: Window) -> tuple[int, bool]:
            search = part.search(terms)
            return count_window(self.session.client, self.count_document, self.count_field, search)

        try:
            if window.end is None:
                total, exact = count(window)
                if exact:
                    return total
                # Split at the run's end: the rest after it is small and counted exactly.
                end = self.session.window_end()
                head = Window(window.start, end)
                tail = count_exactly(count, Window(end, None), lambda: end)
                return tail + count_exactly(count, head, lambda: self._edge_time(reverse=False))
            return count_exactly(count, window, lambda: self._edge_time(reverse=False))
        except BulkOperationError as error:
            raise ShopifySyncError(f"{self.name}: {error}") from error

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

    def _run_window(
        self,
        state: dict[str, Any],
        window: Window,
        *,
        resume_id: str | None,
        skip_before: str | None,
        count_before: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        planned = window
        # A resumed job's count was taken before it ran (in the run that submitted it).
        before = self.exact_count(window) if count_before is None else count_before
        job_count = before
        empty_partials = 0
        while True:
            try:
                result = run_bulk_window(
                    self.session.bulk,
                    self.session.client,
                    self.bulk_query(window.search(self.search_terms())),
                    self.child_fields,
                    resume_id=resume_id,
                    on_submit=partial(self._checkpoint_bulk, state, window=window, count=job_count),
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
                yield from self._emit(roots, window, skip_before)
                state.pop("bulk", None)
                self._counted(planned, before)
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
            yield from self._emit((n for n in roots if n["updatedAt"] < last), window, skip_before)
            state.pop("bulk", None)
            window = Window(format_time(parse_time(last)), window.end)
            resume_id, skip_before = None, None
            job_count = self.exact_count(window)

    def _counted(self, window: Window, before: int) -> None:
        # The count after the read: records that changed meanwhile left the window.
        if self._tally is not None:
            self._tally.counted(before, self.exact_count(window))

    def _probe_access(self, window: Window) -> None:
        # A bulk job only says ACCESS_DENIED; one tiny page names the scope or the
        # protected fields (and raises that clearer error).
        variables = {"first": 1, "after": None, "query": window.search(self.search_terms())}
        self.session.client.execute(self.page_document(), variables, estimated_cost=100)

    def _checkpoint_bulk(
        self, state: dict[str, Any], operation_id: str, window: Window, count: int
    ) -> None:
        # The job id goes to state at once, so a killed run resumes this job.
        previous = state.get("bulk") or {}
        state["bulk"] = {
            "id": operation_id,
            "start": window.start,
            "end": window.end,
            "count": count,
        }
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
