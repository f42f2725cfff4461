"""Sliding-window pacing: how long to wait before a request stays within a platform's limits."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping


class Pacer:
    """Sliding windows per unit (requests, users, events): wait until a request fits."""

    def __init__(
        self, windows: Mapping[str, tuple[int, float]], clock: Callable[[], float]
    ) -> None:
        self.windows = dict(windows)
        self.clock = clock
        self.sent: dict[str, deque[tuple[float, int]]] = {u: deque() for u in windows}

    def wait_time(self, units: Mapping[str, int]) -> float:
        """Seconds to wait before a request of these units stays within every window."""
        now, wait = self.clock(), 0.0
        for unit, (limit, span) in self.windows.items():
            need = units.get(unit, 0)
            if not need:
                continue
            history = self.sent[unit]
            while history and history[0][0] <= now - span:
                history.popleft()
            used = sum(n for _, n in history)
            for at, n in history:
                if used + need <= limit:
                    break
                used -= n
                wait = max(wait, at + span - now + 0.002)
        return wait

    def record(self, units: Mapping[str, int]) -> None:
        """Count a request that went out."""
        now = self.clock()
        for unit in self.windows:
            if units.get(unit):
                self.sent[unit].append((now, units[unit]))
