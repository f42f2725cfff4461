"""Faults a sync must survive, switchable per test (control API) or from the command line.

Each request-level fault has a rate (probability per request, 1.0 = always) and a
``*_next`` count (the next N requests, deterministic for tests). Bulk faults decide how
the next bulk operation ends.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

BULK_OUTCOMES = ("FAILED", "TIMEOUT", "EXPIRED", "TRUNCATED", "ACCESS_DENIED")
REQUEST_FAULTS = ("throttle", "error", "drop", "slow")


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault settings. ``error`` is HTTP 5xx, ``drop`` a connection cut mid-response."""

    throttle_rate: float = 0.0
    throttle_next: int = 0
    error_rate: float = 0.0
    error_next: int = 0
    error_status: int = 503
    drop_rate: float = 0.0
    drop_next: int = 0
    slow_rate: float = 0.0
    slow_next: int = 0
    slow_seconds: float = 2.0
    bulk: str | None = None  # one of BULK_OUTCOMES, for every bulk operation while set
    bulk_next: int = 0  # when > 0, only the next N bulk operations get ``bulk``


_ALIASES = {
    "5xx": "error_rate",
    "throttle": "throttle_rate",
    "drop": "drop_rate",
    "slow": "slow_rate",
}


def parse_fault_specs(specs: list[str] | tuple[str, ...]) -> Faults:
    """Parse ``name=value`` specs (``throttle=0.2``, ``5xx=0.1``, ``bulk=timeout``...).

    Raises:
        ValueError: naming the bad spec.
    """
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Faults)}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = _ALIASES.get(name.strip(), name.strip())
        if not sep or name not in known:
            raise ValueError(f"unknown fault {spec!r}; known: {', '.join(sorted(known))}, 5xx")
        if name == "bulk":
            outcome = raw.strip().upper()
            if outcome not in BULK_OUTCOMES:
                raise ValueError(f"bulk fault must be one of {', '.join(BULK_OUTCOMES)}")
            values[name] = outcome
        elif name.endswith(("_next", "_status")):
            values[name] = int(raw)
        else:
            values[name] = float(raw)
    return Faults(**values)


class FaultInjector:
    """Decides, request by request, which fault (if any) happens. Seeded for repeatability."""

    def __init__(self, faults: Faults | None = None, seed: int = 0) -> None:
        """Start with ``faults`` (none by default)."""
        self._faults = faults or Faults()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def faults(self) -> Faults:
        """Current settings."""
        return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the settings."""
        with self._lock:
            self._faults = faults

    def update(self, **changes: Any) -> None:
        """Change some settings, keeping the rest."""
        with self._lock:
            self._faults = replace(self._faults, **changes)

    def clear(self) -> None:
        """No faults."""
        self.set(Faults())

    def fires(self, kind: str) -> bool:
        """Whether fault ``kind`` (throttle, error, drop, slow) hits this request."""
        with self._lock:
            f = self._faults
            count = getattr(f, f"{kind}_next")
            if count > 0:
                self._faults = replace(f, **{f"{kind}_next": count - 1})
                return True
            rate = getattr(f, f"{kind}_rate")
            return bool(rate > 0 and self._rng.random() < rate)

    def bulk_outcome(self) -> str | None:
        """How the next bulk operation ends (None: normally)."""
        with self._lock:
            f = self._faults
            if f.bulk is None:
                return None
            if f.bulk_next > 0:
                remaining = f.bulk_next - 1
                self._faults = replace(f, bulk_next=remaining, bulk=f.bulk if remaining else None)
            return f.bulk
