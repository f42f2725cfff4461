"""What the apps have spent on the Admin API: requests, query cost, bulk work.

The control API reports it (``usage``), so a test or the demo can show what one sync, or
one pipeline of several, cost the store's API budget.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass
class UsageCounts:
    """Totals since the emulator started (or since the last reset)."""

    requests: int = 0
    executed: int = 0
    throttled: int = 0
    requested_cost: int = 0
    actual_cost: int = 0
    bulk_operations: int = 0
    bulk_downloads: int = 0
    bulk_download_bytes: int = 0


class UsageMeter:
    """Thread-safe counters of every GraphQL request and bulk download."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self._counts = UsageCounts()
        self._bulk_baseline = 0

    def request(self) -> None:
        """One GraphQL request arrived (answered or not)."""
        with self._lock:
            self._counts.requests += 1

    def throttled(self, requested: int) -> None:
        """One request was refused THROTTLED.

        Args:
            requested: Its requested cost.
        """
        with self._lock:
            self._counts.throttled += 1
            self._counts.requested_cost += requested

    def executed(self, requested: int, actual: int) -> None:
        """One query or mutation ran and was charged.

        Args:
            requested: Its requested cost.
            actual: What it cost after the refund of the unused part.
        """
        with self._lock:
            self._counts.executed += 1
            self._counts.requested_cost += requested
            self._counts.actual_cost += actual

    def download(self, size: int) -> None:
        """One bulk result file was served.

        Args:
            size: Its bytes.
        """
        with self._lock:
            self._counts.bulk_downloads += 1
            self._counts.bulk_download_bytes += size

    def snapshot(self, bulk_operations: int) -> dict[str, int]:
        """The totals so far, as plain numbers.

        Args:
            bulk_operations: Bulk operations created so far (the bulk manager knows them).

        Returns:
            Each counter by name.
        """
        with self._lock:
            counts = asdict(self._counts)
        counts["bulk_operations"] = bulk_operations - self._bulk_baseline
        return counts

    def reset(self, bulk_operations: int) -> None:
        """Start counting from zero again.

        Args:
            bulk_operations: Bulk operations created so far (counted from here on).
        """
        with self._lock:
            self._counts = UsageCounts()
            self._bulk_baseline = bulk_operations
