"""The stand-ins' clock: wall time plus an offset a test can move forward."""

from __future__ import annotations

import threading
import time


class StandinClock:
    """Epoch seconds as the platform sees them; ``advance`` skips ahead without sleeping.

    Rate-limit windows, the future-dated event check and Ometria's processing delay all
    read this clock, so a test can cross a one-minute window in microseconds.
    """

    def __init__(self) -> None:
        """Start at the real wall time, offset zero."""
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """The platform's current time in epoch seconds."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (never back); returns the new time."""
        if seconds < 0:
            raise ValueError("advance_time: seconds must be >= 0 (the clock never goes back)")
        with self._lock:
            self._offset += seconds
        return self.now()

    def reset(self) -> None:
        """Back to the real wall time."""
        with self._lock:
            self._offset = 0.0
