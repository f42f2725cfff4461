"""Group commit: one thread writes the deliveries waiting at that moment in one transaction.

Each commit is a disk flush (SQLite's synchronous WAL, PostgreSQL's synchronous commit), and
under a burst that flush, not the insert, is what a delivery waits for. Sharing it between
the deliveries that arrived meanwhile keeps the answer time flat as the burst grows, without
ever answering before the commit: a request's future resolves only after it.
"""

from __future__ import annotations

import queue as threads_queue
import threading
from concurrent.futures import Future

from shopify_webhooks.queue import Delivery, StoreOutcome, WebhookQueue

# Bounds one transaction's size, so a huge backlog still commits in steps.
MAX_BATCH = 200
_STOP = None


class BatchWriter:
    """Writes submitted deliveries to ``queue``, batching those that wait together."""

    def __init__(self, queue: WebhookQueue, max_batch: int = MAX_BATCH) -> None:
        """Start the writer thread."""
        self.queue = queue
        self.max_batch = max_batch
        self._pending: threads_queue.SimpleQueue[tuple[Delivery, Future[StoreOutcome]] | None] = (
            threads_queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="queue-writer", daemon=True)
        self._thread.start()

    def submit(self, delivery: Delivery) -> Future[StoreOutcome]:
        """Queue ``delivery``; the future holds its outcome once committed (or the error)."""
        future: Future[StoreOutcome] = Future()
        self._pending.put((delivery, future))
        return future

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running (the health check reports it)."""
        return self._thread.is_alive()

    def close(self) -> None:
        """Write what was submitted, then stop the thread."""
        self._pending.put(_STOP)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            batch, stopping = self._next_batch()
            if batch:
                self._write(batch)
            if stopping:
                return

    def _next_batch(self) -> tuple[list[tuple[Delivery, Future[StoreOutcome]]], bool]:
        first = self._pending.get()
        if first is _STOP:
            return [], True
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                item = self._pending.get_nowait()
            except threads_queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _write(self, batch: list[tuple[Delivery, Future[StoreOutcome]]]) -> None:
        try:
            outcomes = self.queue.store_many([delivery for delivery, _ in batch])
        except Exception as error:  # noqa: BLE001 - handed to the waiting request
            if len(batch) > 1:  # one by one, so a row the database refuses fails alone
                for item in batch:
                    self._write([item])
            else:
                _settle(batch[0][1], error=error)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome=outcome)


def _settle(
    future: Future[StoreOutcome],
    outcome: StoreOutcome | None = None,
    error: BaseException | None = None,
) -> None:
    # A request that gave up (503 after its budget) no longer waits; its write still counts.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    elif outcome is not None:
        future.set_result(outcome)
