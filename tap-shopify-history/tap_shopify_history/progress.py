"""Progress and summary log lines of one stream: records read of Shopify's count, rate, ETA.

Records are counted as the tap reads them (emitted or left out), one per order or
customer: bulk objects (line items, metafields) are not records. The total is Shopify's
count of what the run reads, so the ETA counts what is left of it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

# "Every few seconds": often enough to see a run move, rare enough to stay readable.
DEFAULT_INTERVAL = 5.0


def format_duration(seconds: float) -> str:
    """A duration as ``H:MM:SS``.

    Args:
        seconds: The duration (``inf`` when unknown).

    Returns:
        ``0:01:05`` for 65 s; ``unknown`` when infinite.
    """
    if not math.isfinite(seconds):
        return "unknown"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Progress:
    """Logs at most every ``interval`` seconds while a stream reads records, then a summary."""

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        *,
        expected: int | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start counting.

        Args:
            logger: Where to log.
            stream: The stream name (also the noun: ``orders``, ``customers``).
            expected: Shopify's count of the records this run reads, once known.
            interval: Seconds between progress lines (default :data:`DEFAULT_INTERVAL`).
            clock: Monotonic clock.
        """
        self._logger = logger
        self._stream = stream
        self.expected = expected
        self._interval = DEFAULT_INTERVAL if interval is None else interval
        self._clock = clock
        self._started = clock()
        self._last_log = self._started
        self.count = 0

    def tick(self, records: int = 1) -> None:
        """Count records read (emitted or left out) and log when the interval has passed.

        Args:
            records: How many records were read.
        """
        now = self._clock()
        if self.count == 0:
            # The first line waits an interval after the first record, not after the start
            # (a bulk job's wait): a rate from one record says nothing.
            self._last_log = now
        self.count += records
        if now - self._last_log >= self._interval:
            self.log()

    def rate(self) -> float:
        """Records read per second since the stream started."""
        return self.count / max(self._clock() - self._started, 1e-9)

    def log(self) -> None:
        """Write one progress line: read so far of the total, rate, time left."""
        self._last_log = self._clock()
        rate = self.rate()
        if self.expected is None:
            self._logger.info("%s: %s read, %s/s", self._stream, f"{self.count:,}", f"{rate:,.0f}")
            return
        total = max(self.expected, self.count)
        left = (total - self.count) / rate if rate > 0 else math.inf
        share = 100 * self.count / total if total else 100.0
        self._logger.info(
            "%s: %s of %s read (%.0f%%), %s/s, ETA %s",
            self._stream,
            f"{self.count:,}",
            f"{total:,}",
            share,
            f"{rate:,.0f}",
            format_duration(left),
        )

    def summary(self, emitted: int, excluded: Mapping[str, int]) -> None:
        """Write the stream's one summary line.

        Args:
            emitted: Records emitted.
            excluded: Records read but not emitted, by reason.
        """
        elapsed = self._clock() - self._started
        left_out = sum(excluded.values())
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(excluded.items()) if n)
        counted = "" if self.expected is None else f" of {self.expected:,} counted by Shopify"
        self._logger.info(
            "%s: finished: %s read%s, %s emitted, %s left out%s, in %s (%s/s)",
            self._stream,
            f"{self.count:,}",
            counted,
            f"{emitted:,}",
            f"{left_out:,}",
            f" ({reasons})" if reasons else "",
            format_duration(elapsed),
            f"{self.rate():,.0f}",
        )
