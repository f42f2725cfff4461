"""Injected faults: 5xx storms, auth failures, slow answers, connections dropped after work.

Each counter covers the next N platform requests (the control API is never faulted). One
request takes at most one *refusal* (auth first, then 5xx): a refused request is not
processed and does not consume the slow or drop counters. A request that is processed
consumes one slow and one drop if they are armed: it is stored first, then answered late
or not at all.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What happens to one platform request."""

    auth_failure: bool = False
    error_status: int | None = None
    slow_seconds: float = 0.0
    drop_connection: bool = False

    @property
    def refused(self) -> bool:
        """True when the request is answered without being processed."""
        return self.auth_failure or self.error_status is not None


NO_FAULT = FaultDecision()


class FaultPlan:
    """Thread-safe counters for the next N requests."""

    def __init__(self) -> None:
        """No faults armed."""
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self.auth_next = 0
            self.error_next = 0
            self.error_status = 500
            self.slow_next = 0
            self.slow_seconds = 0.0
            self.drop_next = 0

    def arm(self, **changes: Any) -> dict[str, Any]:
        """Set counters by name (``error_next``, ``error_status``, ``slow_next``, ...)."""
        allowed = set(self.state())
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; use {sorted(allowed)}")
        status = changes.get("error_status", self.error_status)
        if not 500 <= int(status) <= 599:
            raise ValueError(f"error_status must be a 5xx status, got {status}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, float(value) if name == "slow_seconds" else int(value))
        return self.state()

    def state(self) -> dict[str, Any]:
        """The armed counters, as plain values."""
        return {
            "auth_next": self.auth_next,
            "error_next": self.error_next,
            "error_status": self.error_status,
            "slow_next": self.slow_next,
            "slow_seconds": self.slow_seconds,
            "drop_next": self.drop_next,
        }

    def take(self) -> FaultDecision:
        """Decide (and consume) the faults of the request arriving now."""
        with self._lock:
            if self.auth_next > 0:
                self.auth_next -= 1
                return FaultDecision(auth_failure=True)
            if self.error_next > 0:
                self.error_next -= 1
                return FaultDecision(error_status=self.error_status)
            slow = 0.0
            if self.slow_next > 0:
                self.slow_next -= 1
                slow = self.slow_seconds
            drop = self.drop_next > 0
            if drop:
                self.drop_next -= 1
            return FaultDecision(slow_seconds=slow, drop_connection=drop)


def decision_dict(decision: FaultDecision) -> dict[str, Any]:
    """A decision as a plain dict (for the request log)."""
    return asdict(decision)
