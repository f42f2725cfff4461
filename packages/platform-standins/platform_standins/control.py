"""The control API both stand-ins share: the request log, faults, the clock, reset.

Every method is safe to call from a test thread while a client is sending, returns
plain JSON-able values (copies, never live state), and is also served over HTTP as
``POST /_standin/<method>`` with a JSON object of keyword arguments.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from platform_standins.server import StandinServer


class BaseControl:
    """Observe and steer a running stand-in."""

    HTTP_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "requests",
            "reset",
            "set_faults",
            "clear_faults",
            "faults",
            "fail_next",
            "fail_auth_next",
            "slow_next",
            "drop_next",
            "advance_time",
            "now",
        }
    )

    def __init__(self, server: StandinServer) -> None:
        """Control ``server``."""
        self.server = server

    def _copy(self, value: Any) -> Any:
        with self.server.lock:
            return copy.deepcopy(value)

    def requests(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """Every platform request received, in order (faulted ones too), optionally by outcome.

        Each entry: ``seq``, ``request_id``, ``received_at`` (stand-in clock, epoch s),
        ``method``, ``path``, ``headers`` (credentials removed), ``client_request_id``
        (the ``X-Request-Id`` header the client sent, if any), ``bytes``, ``status`` (what
        the platform answered, even when the connection was then dropped), ``outcome``,
        ``fault`` and ``dropped_connection``, plus platform-specific counts.
        """
        entries = self._copy(self.server.request_log)
        return [e for e in entries if outcome is None or e["outcome"] == outcome]

    def reset(self) -> None:
        """Forget everything received, disarm faults, put the clock back to wall time."""
        self.server.reset()

    def set_faults(self, **counters: Any) -> dict[str, Any]:
        """Arm faults by name: ``auth_next``, ``error_next``, ``error_status``, ``slow_next``,
        ``slow_seconds``, ``drop_next``. Returns the armed state."""
        return self.server.faults.arm(**counters)

    def clear_faults(self) -> dict[str, Any]:
        """Disarm every fault; returns the (empty) state."""
        self.server.faults.clear()
        return self.server.faults.state()

    def faults(self) -> dict[str, Any]:
        """The faults still armed."""
        return self.server.faults.state()

    def fail_next(self, n: int, status: int = 500) -> dict[str, Any]:
        """A 5xx storm: the next ``n`` requests get ``status`` and are not processed."""
        return self.server.faults.arm(error_next=n, error_status=status)

    def fail_auth_next(self, n: int) -> dict[str, Any]:
        """The next ``n`` requests get the platform's 401, even with good credentials."""
        return self.server.faults.arm(auth_next=n)

    def slow_next(self, n: int, seconds: float) -> dict[str, Any]:
        """The next ``n`` processed requests are stored at once but answered ``seconds`` late."""
        return self.server.faults.arm(slow_next=n, slow_seconds=seconds)

    def drop_next(self, n: int) -> dict[str, Any]:
        """The next ``n`` processed requests are stored, then the connection is cut unanswered."""
        return self.server.faults.arm(drop_next=n)

    def advance_time(self, seconds: float) -> float:
        """Move the stand-in's clock forward (rate windows, future dates, processing delay)."""
        with self.server.lock:
            return self.server.clock.advance(float(seconds))

    def now(self) -> float:
        """The stand-in's clock, epoch seconds."""
        return self.server.clock.now()
