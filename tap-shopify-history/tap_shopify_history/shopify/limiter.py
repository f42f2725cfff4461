"""A client-side model of Shopify's leaky-bucket query cost limit.

Shopify reports ``throttleStatus`` on every response; the limiter keeps the last report,
projects the bucket forward at ``restoreRate`` and makes the caller wait before a request
the bucket cannot pay for, so THROTTLED answers stay rare. ``clock`` and ``sleep`` are
injected so tests run without real time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

SINGLE_QUERY_MAX_COST = 1000.0
MAX_PAGE_SIZE = 250
# Seconds between looks at the bucket while other requests are in flight.
WAIT_SLICE = 0.25
# Rounding slack, so a wait that has run its course does not end in a 1e-12 s sleep.
WAIT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ThrottleStatus:
    """One ``extensions.cost.throttleStatus`` report."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Mapping[str, Any] | None) -> ThrottleStatus | None:
        """Read the status from a response's ``extensions``; None when absent.

        Args:
            extensions: The ``extensions`` object of a GraphQL response.

        Returns:
            The parsed status or None.
        """
        status = ((extensions or {}).get("cost") or {}).get("throttleStatus")
        if not status:
            return None
        return cls(
            maximum_available=float(status["maximumAvailable"]),
            currently_available=float(status["currentlyAvailable"]),
            restore_rate=float(status["restoreRate"]),
        )


class CostLimiter:
    """Waits before requests the bucket cannot pay for and sizes pages to the budget."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        max_query_cost: float = SINGLE_QUERY_MAX_COST,
    ) -> None:
        """Start with no knowledge of the bucket (the first response teaches it).

        Args:
            clock: Monotonic clock in seconds.
            sleep: Sleeps the given seconds.
            max_query_cost: Shopify's single-query cost cap.
        """
        self._clock = clock
        self._sleep = sleep
        self._max_query_cost = max_query_cost
        self._status: ThrottleStatus | None = None
        self._observed_at = 0.0
        self.waited_seconds = 0.0
        self.points_spent = 0.0
        self.throttled_count = 0
        self.requests = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def status(self) -> ThrottleStatus | None:
        """The last reported throttle status."""
        return self._status

    def available(self) -> float | None:
        """Project the points available now from the last report (None when unknown).

        Returns:
            The estimated points in the bucket.
        """
        if self._status is None:
            return None
        elapsed = max(0.0, self._clock() - self._observed_at)
        projected = self._status.currently_available + elapsed * self._status.restore_rate
        return min(self._status.maximum_available, projected)

    def wait_time(self, cost: float) -> float:
        """Seconds to wait before the bucket can pay ``cost``.

        Args:
            cost: The query's requested cost.

        Returns:
            Zero when the bucket can pay now.
        """
        available = self.available()
        if available is None or self._status is None or available >= cost:
            return 0.0
        if self._status.restore_rate <= 0:
            return 1.0
        return (cost - available) / self._status.restore_rate

    def acquire(self, cost: float) -> None:
        """Block until the bucket can pay ``cost``, then reserve it and count the request.

        While other requests are in flight, the wait is taken in short slices: their
        answers report what Shopify really charged (the actual cost, often far below the
        requested cost that was reserved), so the points may be there sooner than
        projected. With nothing in flight the projection cannot change: one sleep.

        Args:
            cost: The query's requested (estimated) cost.
        """
        while True:
            with self._lock:
                delay = self.wait_time(cost)
                if delay <= WAIT_TOLERANCE:
                    self._reserve(cost)
                    return
                if self._in_flight:
                    delay = min(delay, WAIT_SLICE)
                self.waited_seconds += delay
            self._sleep(delay)

    def _reserve(self, cost: float) -> None:
        # Take the points now, so concurrent callers queue behind this request (the
        # response's throttleStatus replaces the estimate).
        available = self.available()
        if self._status is not None and available is not None:
            self._status = replace(self._status, currently_available=available - cost)
            self._observed_at = self._clock()
        self.requests += 1
        self._in_flight += 1

    def release(self) -> None:
        """Mark a request acquired earlier as answered (or failed)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def observe(self, status: ThrottleStatus | None, actual_cost: float | None) -> None:
        """Record a response's throttle status and the points it actually cost.

        Args:
            status: The response's throttle status, if any.
            actual_cost: ``actualQueryCost``, if any.
        """
        with self._lock:
            if status is not None:
                self._status = status
                self._observed_at = self._clock()
            if actual_cost is not None:
                self.points_spent += actual_cost

    def on_throttled(self, status: ThrottleStatus | None, requested_cost: float | None) -> None:
        """Count a THROTTLED answer and wait until the refused query is affordable.

        Args:
            status: The throttle status reported with the refusal.
            requested_cost: The refused query's requested cost.
        """
        with self._lock:
            self.throttled_count += 1
        self.observe(status, None)
        delay = self.wait_time(requested_cost or 0.0)
        # Without a status to project from, wait one second (Shopify CLI's default).
        delay = delay if self._status is not None else 1.0
        delay = max(delay, 0.05)
        self.waited_seconds += delay
        self._sleep(delay)

    def page_size(self, cost_per_node: float, fixed_cost: float = 2.0) -> int:
        """The largest page whose cost fits one query's cap and the whole bucket.

        Args:
            cost_per_node: Points one node of the page costs (learned or estimated).
            fixed_cost: Points the query costs besides its nodes.

        Returns:
            A page size between 1 and 250.
        """
        budget = self._max_query_cost
        if self._status is not None:
            budget = min(budget, self._status.maximum_available)
        size = int((budget - fixed_cost) // max(cost_per_node, 1e-9))
        return max(1, min(MAX_PAGE_SIZE, size))

    def restore_share(self, elapsed_seconds: float) -> float | None:
        """Share of the restore rate the points spent used over ``elapsed_seconds``.

        Args:
            elapsed_seconds: Wall time of the measured run.

        Returns:
            A ratio (1.0 = the whole restore rate), or None without a status.
        """
        if self._status is None or elapsed_seconds <= 0 or self._status.restore_rate <= 0:
            return None
        return self.points_spent / (elapsed_seconds * self._status.restore_rate)
