"""Progress log lines: records so far, rate and an estimate of what is left."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Progress:
    """Logs at most every ``interval`` seconds while a stream emits records."""

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        *,
        expected: int | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start counting.

        Args:
            logger: Where to log.
            stream: The stream name.
            expected: Records expected in total (count query or bulk objectCount).
            interval: Seconds between log lines.
            clock: Monotonic clock.
        """
        self._logger = logger
        self._stream = stream
        self.expected = expected
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_log = self._started
        self.count = 0
        self.position = ""

    def tick(self, records: int = 1) -> None:
        """Count emitted records and log when the interval has passed.

        Args:
            records: How many records were emitted.
        """
        self.count += records
        if self._clock() - self._last_log >= self._interval:
            self.log()

    def log(self, final: bool = False) -> None:
        """Write one progress line.

        Args:
            final: Whether this is the stream's last line.
        """
        now = self._clock()
        self._last_log = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.count / elapsed
        left = ""
        if self.expected is not None and not final:
            remaining = max(self.expected - self.count, 0)
            eta = remaining / rate if rate > 0 else float("inf")
            left = f", ~{remaining} left (est. {eta:.0f}s)"
        where = f", window {self.position}" if self.position else ""
        self._logger.info(
            "%s: %s %d records, %.0f records/s%s%s",
            self._stream,
            "done," if final else "progress:",
            self.count,
            rate,
            left,
            where,
        )
