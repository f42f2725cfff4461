"""Bulk windows: plan by count, submit (several at once where the API allows), resume
from state, emit sorted, reuse partial data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from tap_shopify_history.exceptions import ShopifySyncError
from tap_shopify_history.shopify.bulk import BulkAttempts, BulkOperation
from tap_shopify_history.shopify.bulk_orders import decode_order
from tap_shopify_history.shopify.errors import (
    BulkAccessDeniedError,
    BulkOperationError,
    BulkOperationExpiredError,
    BulkOperationTimeoutError,
)
from tap_shopify_history.shopify.extract import (
    BulkWindowResult,
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

DEFAULT_BULK_ATTEMPTS = 3
DEFAULT_BULK_WAIT = 3600
# The inline lists of a bulk row that `complete_nodes(bulk=True)` fills in, by entity: a
# bulk query cannot nest a connection inside a list, so orders' refunds come without their
# lines. Only rows holding a non-empty one are decoded before completion; the rest stay
# compact until emitted (shopify/held.py). A stream not named here that completes bulk rows
# gets every row decoded first (correct, only slower).
BULK_COMPLETION_FIELDS: dict[str, tuple[str, ...]] = {"orders": ("refunds",)}
# Typed decoders of bulk rows by entity (shopify/bulk_orders.py); others are decoded as dicts.
BULK_TYPED_ROWS: dict[str, Callable[[bytes], Any | None]] = {"orders": decode_order}


class BulkWindowStream(EntityStream):
    """Reads ``updated_at`` windows with bulk operations."""

    # The (operation id, status) last logged: a status is logged once, not per poll.
    _last_poll: tuple[str, str] | None = None

    def _read_bulk(self, state: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        planned = self._plan(window)
        total = sum(count for _, count in planned)
        self.logger.info(
            "%s: bulk read of %s: %s counted by Shopify, %d bulk job(s)",
            self.name,
            window,
            f"{total:,}",
            len(planned),
        )
        if self._progress is not None:
            self._progress.expected = total
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
        self.write_state_message()
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
            # A job dropped from state as unusable leaves its window: submitted afresh.
            self.logger.debug("%s: reading bulk operation %s", self.name, job.get("id"))
            window = Window(job.get("start"), job.get("end"))
            yield from self._run_window(
                state,
                window,
                resume_id=job.get("id"),
                skip_before=job.get("emitted_through"),
                count_before=job.get("count"),
            )
        state.pop("bulk_queue", None)

    def _plan(self, window: Window) -> list[tuple[Window, int]]:
        """The bulk windows covering ``window``, each with Shopify's count of it.

        A part's count is exact: a capped count says more than any window may hold, so
        such a part is split until its count is exact.
        """
        max_records = self._config_int("bulk_window_max_records", DEFAULT_WINDOW)
        total = self._count(window)
        if total <= max_records:
            return [(window, total)] if total else []
        counts: dict[Window, int] = {}

        def count(part: Window) -> int:
            counts[part] = self._count(part)
            return counts[part]

        lower = window.start or self._edge_time(reverse=False)
        upper = window.end or format_time(
            parse_time(self._edge_time(reverse=True)) + dt.timedelta(seconds=1)
        )
        parts = [
            (part, counts[part]) for part in plan_windows(Window(lower, upper), count, max_records)
        ]
        if parts and window.end is None:
            # Keep the last window open so records changed while we run are not cut off.
            parts[-1] = (Window(parts[-1][0].start, None), parts[-1][1])
        return parts

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
        attempts = self._attempts()
        while True:
            result = self._attempt(state, window, resume_id, job_count, attempts)
            resume_id = None
            if result is None:
                continue  # unusable, dropped from state: run the window again
            roots = result.roots
            roots.sort()
            if self._completes_bulk_nodes():
                self.complete_nodes(roots.for_completion(), bulk=True)
            if not result.partial:
                yield from self._emit(roots.nodes(), window, skip_before)
                state.pop("bulk", None)
                self._counted(planned, before)
                return
            if not roots:
                # Failed before any usable data: run the window again, bounded.
                self._unusable(
                    state,
                    attempts,
                    f"bulk operation {result.operation.id} failed "
                    f"({result.operation.error_code}) with no usable data",
                )
                continue
            # Partial data is a prefix in updatedAt order; the last second may be cut
            # short, so emit what is before it and re-request from it.
            last = roots.last_updated_at
            yield from self._emit(roots.nodes(before=last), window, skip_before)
            rest = Window(format_time(parse_time(last)), window.end)
            if rest.start == window.start:
                # All of it in the window's first second: no progress, one attempt used.
                reason = f"bulk operation {result.operation.id} brought nothing new"
                self._unusable(state, attempts, reason)
            else:
                attempts.progressed()
            state.pop("bulk", None)
            window, skip_before = rest, None
            job_count = self.exact_count(window)

    def _completes_bulk_nodes(self) -> bool:
        # Streams that leave `complete_nodes` alone have nothing to complete in bulk rows.
        return type(self).complete_nodes is not EntityStream.complete_nodes

    def _bulk_completion_fields(self) -> tuple[str, ...] | None:
        if not self._completes_bulk_nodes():
            return ()
        return BULK_COMPLETION_FIELDS.get(self.entity)

    def _attempts(self) -> BulkAttempts:
        return BulkAttempts(
            max_attempts=max(1, self._config_int("bulk_max_attempts", DEFAULT_BULK_ATTEMPTS)),
            max_wait_seconds=self._config_int("bulk_max_wait_seconds", DEFAULT_BULK_WAIT),
            clock=self.session.bulk.clock,
        )

    def _attempt(
        self,
        state: dict[str, Any],
        window: Window,
        resume_id: str | None,
        job_count: int,
        attempts: BulkAttempts,
    ) -> BulkWindowResult | None:
        try:
            return run_bulk_window(
                self.session.bulk,
                self.session.client,
                self.bulk_query(window.search(self.search_terms())),
                self.child_fields,
                resume_id=resume_id,
                on_submit=partial(self._checkpoint_bulk, state, window=window, count=job_count),
                on_poll=self._on_poll,
                deadline=attempts.deadline,
                resubmits=0,
                completion_fields=self._bulk_completion_fields(),
                typed=BULK_TYPED_ROWS.get(self.entity),
            )
        except BulkOperationTimeoutError as error:
            self._discard_job(state)
            msg = (
                f"{self.name}: {error} (bulk_max_wait_seconds="
                f"{attempts.max_wait_seconds:g}); it was canceled and dropped from state, so "
                "running the sync again starts it afresh. Set bulk_max_wait_seconds higher "
                "for a large store, or bulk_window_max_records lower for smaller jobs."
            )
            raise ShopifySyncError(msg) from error
        except BulkAccessDeniedError as error:
            self._discard_job(state)
            self._probe_access(window)  # raises the clearer error if access is denied
            self._unusable(state, attempts, str(error))
        except (BulkOperationError, BulkOperationExpiredError) as error:
            self._unusable(state, attempts, str(error))
        return None

    def _unusable(self, state: dict[str, Any], attempts: BulkAttempts, reason: str) -> None:
        # The job's result cannot be used: it leaves state at once, so neither this run
        # nor a re-run resumes it, and the window is run again a bounded number of times.
        self._discard_job(state)
        if attempts.give_up():
            msg = (
                f"{self.name}: a bulk operation's result could not be used after "
                f"{attempts.failures} attempt(s) (bulk_max_attempts={attempts.max_attempts}, "
                f"bulk_max_wait_seconds={attempts.max_wait_seconds:g}); last: {reason}. "
                "The job was dropped from state and nothing past the last checkpoint was "
                "kept, so running the sync again retries it cleanly. If it keeps failing, "
                "check Shopify's status page and the app's access scopes, or set "
                "extraction_mode to paginated."
            )
            raise ShopifySyncError(msg)
        self.logger.warning("%s: %s; running the window again", self.name, reason)

    def _discard_job(self, state: dict[str, Any]) -> None:
        job = state.get("bulk")
        if job and job.pop("id", None):
            # The window (and how far it was emitted) stays, the job does not.
            self.state_manager.is_flushed = False
            self.write_state_message()

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
        self.write_state_message()

    def _on_poll(self, operation: BulkOperation) -> None:
        # One line per status change, not per poll: the progress lines say the rest.
        seen = (operation.id, operation.status)
        if seen == self._last_poll:
            return
        self._last_poll = seen
        self.logger.info(
            "%s: bulk operation %s %s: %s %s, %s objects with their children",
            self.name,
            operation.id.rsplit("/", 1)[-1],
            operation.status,
            f"{operation.root_object_count:,}",
            self.name,
            f"{operation.object_count:,}",
        )
