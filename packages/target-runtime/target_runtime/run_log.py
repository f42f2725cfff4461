"""The INFO lines a target logs as it commits batches and when its run ends.

A target's figures otherwise live only in its database; these lines let someone watching a
``meltano run`` see progress and the outcome without querying it. They are plain text (no
Python reprs), one line per committed batch and one summary line per run:

    batch committed: orders 500 records, 498 applied, 2 rejected; run total 12,500 records (410/s)
    batch committed: customers 200, orders 300 = 500 records, 500 applied, 0 rejected; ...
    run succeeded in 30.5s: 12,500 records (customers 2,500, orders 10,000) in 25 batches,
        12,480 applied, 20 rejected (410/s)      <- one line in the log

Usage::

    from target_runtime.run_log import BatchLog

    log = BatchLog(logger)                       # once per run, when the target starts
    log.committed(stream="orders", records=500, applied=498, rejected=2)
    log.committed(stream={"orders": 300, "customers": 200}, applied=500)  # one batch, 2 streams
    log.summary(outcome="succeeded")             # or "failed", "stopped: <why>"

``rejected`` counts records that were not applied (rejected, quarantined, dead-lettered):
pass ``rejected_word="quarantined"`` to name them as the target does. Rates and elapsed time
count from the :class:`BatchLog`'s creation.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping

__all__ = ["BatchLog", "format_count", "format_duration"]


def format_count(value: int) -> str:
    """A count with thousands separators: ``12,500``."""
    return f"{value:,}"


def format_duration(seconds: float) -> str:
    """Elapsed time as a person reads it: ``0.4s``, ``30.5s``, ``2m 05s``, ``1h 02m``."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _format_rate(records: int, seconds: float) -> str:
    # A rate over a near-zero interval is noise, not a figure anyone can use.
    if seconds < 0.001:
        return "rate n/a"
    return f"{records / seconds:,.0f}/s"


class BatchLog:
    """Counts a run's committed batches and logs one INFO line per batch and one summary.

    Args:
        logger: where the lines go (the target's own logger).
        rejected_word: what the target calls records it did not apply ("rejected",
            "quarantined").
        clock: monotonic seconds; injectable so tests need no real time.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        rejected_word: str = "rejected",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._rejected_word = rejected_word
        self._clock = clock
        self._started = clock()
        self._records: Counter[str] = Counter()
        self._applied = 0
        self._rejected = 0
        self._batches = 0

    @property
    def records_by_stream(self) -> dict[str, int]:
        """Records committed so far, per stream."""
        return dict(self._records)

    @property
    def applied(self) -> int:
        """Records applied so far."""
        return self._applied

    @property
    def rejected(self) -> int:
        """Records not applied so far (rejected or quarantined)."""
        return self._rejected

    @property
    def batches(self) -> int:
        """Batches committed so far."""
        return self._batches

    def committed(
        self,
        *,
        stream: str | Mapping[str, int],
        records: int | None = None,
        applied: int,
        rejected: int = 0,
    ) -> str:
        """Count one committed batch and log its line; returns the line.

        Args:
            stream: the batch's stream, or a mapping of stream to records when one batch
                (one transaction) spans several streams.
            records: records in the batch; with a mapping it defaults to their sum.
            applied: records the batch applied.
            rejected: records the batch did not apply (rejected or quarantined).

        Raises:
            ValueError: a negative count, a single stream without ``records``, or a mapping
                whose sum disagrees with ``records``.
        """
        per_stream = self._per_stream(stream, records)
        total = sum(per_stream.values())
        if applied < 0 or rejected < 0:
            raise ValueError("applied and rejected must not be negative")
        self._records.update(per_stream)
        self._applied += applied
        self._rejected += rejected
        self._batches += 1
        run_total = sum(self._records.values())
        elapsed = self._clock() - self._started
        line = (
            f"batch committed: {self._streams_text(per_stream)} {format_count(total)} records, "
            f"{format_count(applied)} applied, {format_count(rejected)} {self._rejected_word}; "
            f"run total {format_count(run_total)} records ({_format_rate(run_total, elapsed)})"
        )
        self._logger.info(line)
        return line

    def summary(self, *, outcome: str) -> str:
        """Log the end-of-run line; returns it.

        Args:
            outcome: how the run ended, in words: "succeeded", "failed", "stopped: <why>".
        """
        elapsed = self._clock() - self._started
        run_total = sum(self._records.values())
        if not run_total:
            line = f"run {outcome} in {format_duration(elapsed)}: no records"
        else:
            per_stream = ", ".join(
                f"{name} {format_count(count)}" for name, count in sorted(self._records.items())
            )
            line = (
                f"run {outcome} in {format_duration(elapsed)}: {format_count(run_total)} records "
                f"({per_stream}) in {format_count(self._batches)} "
                f"batch{'es' if self._batches != 1 else ''}, {format_count(self._applied)} "
                f"applied, {format_count(self._rejected)} {self._rejected_word} "
                f"({_format_rate(run_total, elapsed)})"
            )
        self._logger.info(line)
        return line

    @staticmethod
    def _per_stream(stream: str | Mapping[str, int], records: int | None) -> dict[str, int]:
        if isinstance(stream, str):
            if records is None:
                raise ValueError("records is required with a single stream")
            per_stream = {stream: records}
        else:
            per_stream = dict(stream)
            if records is not None and records != sum(per_stream.values()):
                raise ValueError(
                    f"records ({records}) disagrees with the streams' sum "
                    f"({sum(per_stream.values())})"
                )
        if any(count < 0 for count in per_stream.values()):
            raise ValueError("records must not be negative")
        return per_stream

    @staticmethod
    def _streams_text(per_stream: Mapping[str, int]) -> str:
        if len(per_stream) == 1:
            return next(iter(per_stream))
        # Several streams in one transaction: name each with its share.
        parts = ", ".join(f"{name} {format_count(n)}" for name, n in sorted(per_stream.items()))
        return f"{parts} ="
