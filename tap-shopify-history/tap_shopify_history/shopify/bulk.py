"""Bulk operations: submit, poll with an adaptive interval, and hand back the result URL.

A status enum with one handler per status (the shape of Airbyte's ``bulk/job.py``): each
handler says whether to keep polling, return the result, or raise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import (
    BulkAccessDeniedError,
    BulkOperationError,
    BulkOperationExpiredError,
    BulkOperationTimeoutError,
    GraphQLQueryError,
)
from tap_shopify_history.shopify.queries import (
    BULK_CANCEL,
    BULK_OPERATION_FIELDS,
    BULK_POLL,
    CURRENT_BULK_OPERATION,
    bulk_run_mutation,
)

LOGGER = logging.getLogger("tap_shopify_history.shopify.bulk")


class BulkStatus(StrEnum):
    """``BulkOperationStatus``."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class BulkOperation:
    """One poll of a bulk operation."""

    id: str
    status: BulkStatus
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    url: str | None = None
    partial_data_url: str | None = None

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> BulkOperation:
        """Parse a ``BulkOperation`` object (counts arrive as strings).

        Args:
            node: The GraphQL object.

        Returns:
            The parsed operation.
        """
        return cls(
            id=node["id"],
            status=BulkStatus(node["status"]),
            error_code=node.get("errorCode"),
            object_count=int(node.get("objectCount") or 0),
            root_object_count=int(node.get("rootObjectCount") or 0),
            url=node.get("url"),
            partial_data_url=node.get("partialDataUrl"),
        )


@dataclass(frozen=True)
class BulkResult:
    """A finished operation: the URL to read and whether it holds only part of the data."""

    operation: BulkOperation
    url: str | None
    partial: bool


@dataclass
class PollSchedule:
    """Adaptive poll interval: a fixed share of the time waited so far, within bounds.

    Small jobs finish in seconds and are polled quickly; a long job is polled less often,
    and the time lost after it finishes stays under ``share`` of its run time (a fixed
    60 s sleep, as some taps do, costs a minute even on an empty incremental run).
    """

    initial: float = 0.2
    share: float = 0.15
    maximum: float = 15.0
    waited: float = 0.0

    def next_delay(self) -> float:
        """The delay before the next poll.

        Returns:
            Seconds to sleep.
        """
        delay = min(self.maximum, max(self.initial, self.waited * self.share))
        self.waited += delay
        return delay


class BulkRunner:
    """Runs bulk queries of one store, one at a time."""

    def __init__(
        self,
        client: GraphQLClient,
        sleep: Callable[[float], None],
        *,
        group_objects: bool | None = None,
        schedule: Callable[[], PollSchedule] = PollSchedule,
        max_polls: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the runner.

        Args:
            client: The store's GraphQL client.
            sleep: Sleep function, injected for tests.
            group_objects: Value of ``groupObjects`` (API 2025-07+); None to omit it.
            schedule: Factory of poll schedules.
            max_polls: Safety bound on polls of one operation.
            clock: Monotonic clock (deadlines), injected for tests.
        """
        self._client = client
        self.clock = clock
        self._sleep = sleep
        self._group_objects = group_objects
        self._schedule = schedule
        self._max_polls = max_polls
        self._handlers: dict[BulkStatus, Callable[[BulkOperation], BulkResult | None]] = {
            BulkStatus.CREATED: self._on_pending,
            BulkStatus.RUNNING: self._on_pending,
            BulkStatus.CANCELING: self._on_pending,
            BulkStatus.COMPLETED: self._on_completed,
            BulkStatus.FAILED: self._on_failed,
            BulkStatus.CANCELED: self._on_canceled,
            BulkStatus.EXPIRED: self._on_expired,
        }

    def submit(self, query: str) -> str:
        """Start a bulk query; waits for another running query operation first.

        Args:
            query: The bulk query document (no pagination arguments needed).

        Returns:
            The new operation's gid.
        """
        document, variables = bulk_run_mutation(query, self._group_objects)
        for _ in range(self._max_polls):
            data = self._client.execute(document, variables, estimated_cost=10)
            payload = data["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            if not errors:
                operation_id: str = payload["bulkOperation"]["id"]
                LOGGER.debug("Submitted bulk operation %s", operation_id)
                return operation_id
            codes = {e.get("code") for e in errors}
            text = " ".join(str(e.get("message", "")) for e in errors).lower()
            if "OPERATION_IN_PROGRESS" in codes or "already in progress" in text:
                self._wait_for_current()
                continue
            msg = f"Shopify refused the bulk query: {'; '.join(e['message'] for e in errors)}"
            raise GraphQLQueryError(msg)
        msg = "gave up waiting for another bulk operation to finish"
        raise BulkOperationError(msg)

    def _wait_for_current(self) -> None:
        # Another app run's (or a lost) query operation holds the one slot: wait it out.
        schedule = self._schedule()
        waited_for = None
        for _ in range(self._max_polls):
            data = self._client.execute(CURRENT_BULK_OPERATION, estimated_cost=1)
            current = data.get("currentBulkOperation")
            if not current or current["status"] not in {"CREATED", "RUNNING", "CANCELING"}:
                return
            if current["id"] != waited_for:  # once per operation, not per poll
                waited_for = current["id"]
                LOGGER.info("Waiting for bulk operation %s to finish first", current["id"])
            self._sleep(schedule.next_delay())

    def poll(self, operation_id: str) -> BulkOperation:
        """Read an operation's current status.

        Args:
            operation_id: The operation gid.

        Returns:
            The operation.
        """
        data = self._client.execute(BULK_POLL, {"id": operation_id}, estimated_cost=1)
        node = data.get("node")
        if not node:
            msg = f"bulk operation {operation_id} no longer exists"
            raise BulkOperationExpiredError(msg)
        return BulkOperation.from_node(node)

    def wait(
        self,
        operation_id: str,
        on_poll: Callable[[BulkOperation], None] | None = None,
        deadline: float | None = None,
    ) -> BulkResult:
        """Poll until the operation reaches a final status and dispatch on it.

        Args:
            operation_id: The operation gid.
            on_poll: Called with every poll (progress logging).
            deadline: ``clock()`` value after which the operation is canceled and
                :class:`BulkOperationTimeoutError` raised.

        Returns:
            The result to download.

        Raises:
            BulkOperationTimeoutError: When the deadline passed first.
        """
        schedule = self._schedule()
        for _ in range(self._max_polls):
            if deadline is not None and self.clock() >= deadline:
                self.cancel(operation_id)
                msg = f"bulk operation {operation_id} did not finish in the time allowed"
                raise BulkOperationTimeoutError(msg)
            operation = self.poll(operation_id)
            if on_poll is not None:
                on_poll(operation)
            result = self._handlers[operation.status](operation)
            if result is not None:
                return result
            self._sleep(schedule.next_delay())
        msg = f"bulk operation {operation_id} did not finish after {self._max_polls} polls"
        raise BulkOperationError(msg)

    def cancel(self, operation_id: str) -> None:
        """Ask Shopify to cancel an operation (best effort).

        Args:
            operation_id: The operation gid.
        """
        self._client.execute(BULK_CANCEL, {"id": operation_id}, estimated_cost=10)

    @staticmethod
    def _on_pending(operation: BulkOperation) -> BulkResult | None:
        return None

    @staticmethod
    def _on_completed(operation: BulkOperation) -> BulkResult:
        # A query that matched nothing completes with no URL: an empty result, not an error.
        return BulkResult(operation=operation, url=operation.url, partial=False)

    @staticmethod
    def _on_failed(operation: BulkOperation) -> BulkResult:
        if operation.partial_data_url:
            LOGGER.warning(
                "Bulk operation %s failed (%s) with partial data; using it and re-requesting "
                "the rest",
                operation.id,
                operation.error_code,
            )
            return BulkResult(operation=operation, url=operation.partial_data_url, partial=True)
        msg = f"bulk operation {operation.id} failed: {operation.error_code or 'unknown error'}"
        if operation.error_code == "ACCESS_DENIED":
            raise BulkAccessDeniedError(msg)
        raise BulkOperationError(msg)

    @staticmethod
    def _on_canceled(operation: BulkOperation) -> BulkResult:
        msg = f"bulk operation {operation.id} was canceled"
        raise BulkOperationExpiredError(msg)

    @staticmethod
    def _on_expired(operation: BulkOperation) -> BulkResult:
        msg = f"bulk operation {operation.id} expired; its result is gone"
        raise BulkOperationExpiredError(msg)


@dataclass
class BulkAttempts:
    """How many times, and for how long, one window's bulk job may be run again.

    Every unusable result (truncated file, rows that do not match ``objectCount``, a job
    that failed, expired or was denied once) counts one attempt; an attempt that brought
    usable data resets the count. Time counts from the first submission.
    """

    max_attempts: int
    max_wait_seconds: float
    clock: Callable[[], float]
    failures: int = 0
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        """Start the clock."""
        self.started = self.clock()

    @property
    def deadline(self) -> float:
        """``clock()`` value after which no job of this window may still run."""
        return self.started + self.max_wait_seconds

    def give_up(self) -> bool:
        """Count one unusable result.

        Returns:
            True when no attempt is left (count or time).
        """
        self.failures += 1
        return self.failures >= self.max_attempts or self.clock() >= self.deadline

    def progressed(self) -> None:
        """An attempt brought usable data: the count starts again."""
        self.failures = 0


__all__ = [
    "BULK_OPERATION_FIELDS",
    "BulkAttempts",
    "BulkOperation",
    "BulkResult",
    "BulkRunner",
    "BulkStatus",
]
