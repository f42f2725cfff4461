"""The platform-neutral delivery engine: pack, pace, send, retry, record.

The engine knows no tables and no platform. The target's :class:`Outbox` stores rows and
requests (in whatever tables it has); each platform's :class:`Adapter` turns rows into
payloads and requests. The engine sends one request at a time per destination, paced by
sliding windows, and records every request before it goes out, so a crash leaves it `sending`
(in doubt) rather than lost.

How an answer is handled (:func:`classify_answer`):

- 2xx: sent; each item's payload hash and platform identity are recorded.
- 429 and 5xx: retried with doubling backoff (capped, at least ``Retry-After``).
- 401 / 403: the destination stops for this run; its rows stay pending.
- any other status: the request's rows are rejected with the answer.
- no answer: retried when the connection surely never reached the platform, or when the
  platform is idempotent (``resend_in_doubt``); otherwise the rows are in doubt.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import requests

from target_runtime.delivery.items import IN_DOUBT, PENDING, REJECTED, SENT, Item, OutboxRow
from target_runtime.delivery.pacing import Pacer

__all__ = [
    "Adapter",
    "Answer",
    "DeliveryEngine",
    "Outbox",
    "Policy",
    "classify_answer",
    "connection_never_made",
    "request_units",
]


class Adapter(Protocol):
    """What the engine needs from one platform."""

    name: str
    resend_in_doubt: bool
    windows: Mapping[str, tuple[int, float]]  # unit -> (most per window, window seconds)
    feedback_wait_seconds: float  # how long the platform takes to validate what it took
    # Seconds after a contact's user id changed before the old user is merged into the new
    # one; None: the platform keys users by something that does not change, or merging is
    # off, and the change is only recorded and reported. Passed on to the outbox.
    merge_delay_seconds: float | None

    def build(self, conn: Any, rows: Sequence[OutboxRow], now: datetime) -> list[Item]:
        """Turn pending rows into payloads or local outcomes (``conn``: the outbox's reader)."""

    def pack(self, items: Sequence[Item]) -> list[list[Item]]:
        """Fill requests to the platform's limits."""

    def request(self, items: Sequence[Item]) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body of one request."""

    def feedback(self, session: requests.Session) -> list[tuple[str, str]]:
        """The platform's own record errors, if it lists any."""


class Outbox(Protocol):
    """The target's outbox: its rows and requests, in the target's own tables."""

    def prepare(self, destination: str, *, resend_in_doubt: bool, now: datetime) -> int:
        """Before a destination's first drain in a run: queue what it never saw, and settle
        requests an interrupted run left `sending`. Returns how many were in doubt."""

    def release_due(self, destination: str, now: datetime) -> int:
        """Make scheduled rows that are due pending."""

    def pending(self, destination: str, limit: int) -> list[OutboxRow]:
        """The next pending rows, in delivery order."""

    def reading(self) -> contextlib.AbstractContextManager[Any]:
        """What adapters read the target's data through (a SQL store: a connection)."""

    def settle_local(self, destination: str, items: Sequence[Item], run_id: str) -> None:
        """Record outcomes decided without a request."""

    def start_request(  # noqa: PLR0917 (mirrors the one call site)
        self,
        destination: str,
        request_id: str,
        run_id: str,
        items: Sequence[Item],
        size: int,
        now: datetime,
    ) -> None:
        """Record the request and mark its rows `sending`, before anything goes out."""

    def finish_request(
        self,
        request_id: str,
        status: str,
        *,
        row_status: str,
        attempts: int,
        http_status: int | None,
        answer: str | None,
        now: datetime,
        sent: Sequence[Item],
        lost_answers: int,
        merge_delay_seconds: float | None,
    ) -> None:
        """Record the request's end and move its rows to ``row_status``; ``sent`` are the
        items of a request the platform took (their hashes and identities to record)."""

    def save_feedback(
        self, destination: str, run_id: str, errors: list[tuple[str, str]], now: datetime
    ) -> None:
        """Store the platform's own error list for the report."""


@dataclass
class Policy:
    """Retry and timing settings."""

    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 30.0
    dry_run_dir: Path | None = None


class Answer(Enum):
    """What an HTTP status means for a request."""

    SENT = "sent"
    RETRY = "retry"
    AUTHENTICATION = "authentication"
    REJECTED = "rejected"


def classify_answer(status: int) -> Answer:
    """A platform's HTTP status as the engine acts on it (see the module's docstring)."""
    if status == 429 or status >= 500:
        return Answer.RETRY
    if status in {401, 403}:
        return Answer.AUTHENTICATION
    if 200 <= status < 300:
        return Answer.SENT
    return Answer.REJECTED


def connection_never_made(error: requests.RequestException) -> bool:
    """True when the request surely never reached the platform (safe to retry)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text


def request_units(items: Sequence[Item]) -> dict[str, int]:
    """What one request of these items counts against the windows: itself and its units."""
    units = {"requests": 1}
    for item in items:
        for unit, n in item.units.items():
            units[unit] = units.get(unit, 0) + n
    return units


class DeliveryEngine:
    """Drains each destination's outbox after a committed batch and at the end of a run."""

    def __init__(
        self,
        outbox: Outbox,
        adapters: Sequence[Adapter],
        run_id: str,
        policy: Policy,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        """Keep the outbox, the adapters and one HTTP session."""
        self.outbox, self.adapters, self.run_id, self.policy = outbox, adapters, run_id, policy
        self.now, self.sleep = now, sleep
        self.logger = logger or logging.getLogger("target_runtime.delivery")
        self.session = requests.Session()
        self.pacers = {a.name: Pacer(a.windows, clock) for a in adapters}
        self.stopped: set[str] = set()
        self.failures: dict[str, str] = {}
        self.sent_to: set[str] = set()
        self._recovered: set[str] = set()
        self._lost = 0

    def drain(self) -> None:
        """Send everything pending to every destination that is not stopped for this run."""
        for adapter in self.adapters:
            if adapter.name in self.stopped:
                continue
            if adapter.name not in self._recovered:
                n = self.outbox.prepare(
                    adapter.name, resend_in_doubt=adapter.resend_in_doubt, now=self.now()
                )
                if n:
                    self.logger.warning(
                        "%s: %d request(s) in doubt from an interrupted run", adapter.name, n
                    )
                self._recovered.add(adapter.name)
            self.outbox.release_due(adapter.name, self.now())
            self._drain_one(adapter)

    def _drain_one(self, adapter: Adapter) -> None:
        while True:
            rows = self.outbox.pending(adapter.name, 5000)
            if not rows:
                return
            with self.outbox.reading() as conn:
                items = adapter.build(conn, rows, self.now())
            local = [i for i in items if i.outcome is not None]
            self.outbox.settle_local(adapter.name, local, self.run_id)
            sendable = [i for i in items if i.outcome is None]
            if self.policy.dry_run_dir is not None:
                self._dry_run(adapter, sendable)
                return
            for batch in adapter.pack(sendable):
                if not self._deliver(adapter, batch):
                    self.stopped.add(adapter.name)
                    return

    def _dry_run(self, adapter: Adapter, items: Sequence[Item]) -> None:
        """Write the request bodies to files; the outbox stays pending for a real run."""
        assert self.policy.dry_run_dir is not None
        folder = self.policy.dry_run_dir / adapter.name
        folder.mkdir(parents=True, exist_ok=True)
        for n, batch in enumerate(adapter.pack(items), start=1):
            _, _, body = adapter.request(batch)
            (folder / f"{self.run_id}-{n:05d}.json").write_bytes(body)
        self.stopped.add(adapter.name)

    def _deliver(self, adapter: Adapter, batch: list[Item]) -> bool:
        """Send one request with retries; True when the destination may go on."""
        url, headers, body = adapter.request(batch)
        request_id = uuid.uuid4().hex
        headers = {**headers, "X-Request-Id": request_id}
        self.outbox.start_request(
            adapter.name, request_id, self.run_id, batch, len(body), self.now()
        )
        units = request_units(batch)
        self._lost = 0
        for attempt in range(1, self.policy.max_attempts + 1):
            self.sleep(self.pacers[adapter.name].wait_time(units))
            try:
                answer = self.session.post(
                    url, data=body, headers=headers, timeout=self.policy.timeout_seconds
                )
            except requests.RequestException as error:
                self.pacers[adapter.name].record(units)
                if connection_never_made(error) or adapter.resend_in_doubt:
                    # Idempotent platform: a lost answer is re-sent, and counted.
                    self._lost += 0 if connection_never_made(error) else 1
                    self._backoff(attempt, None)
                    continue
                self._finish(
                    request_id,
                    IN_DOUBT,
                    IN_DOUBT,
                    attempt,
                    None,
                    f"in doubt: no answer ({type(error).__name__})",
                )
                return True
            # Counted when answered, not when sent: the platform's window starts when the
            # request arrives, so counting from before it would let the next one in early.
            self.pacers[adapter.name].record(units)
            status = answer.status_code
            kind = classify_answer(status)
            if kind is Answer.RETRY:
                queue = answer.headers.get("X-QueueSize-Remaining")
                self.logger.info(
                    "%s: HTTP %d on attempt %d%s",
                    adapter.name,
                    status,
                    attempt,
                    f" (queue remaining {queue})" if queue is not None else "",
                )
                self._backoff(attempt, answer.headers.get("Retry-After"))
                continue
            if kind is Answer.AUTHENTICATION:
                self._finish(
                    request_id, "failed", PENDING, attempt, status, "authentication failed"
                )
                # Fatal for this destination only: the target's store keeps loading, the
                # rows stay pending for a run with a good key, and the run ends failed.
                self.failures[adapter.name] = (
                    f"{adapter.name} refused the credentials (HTTP {status}); nothing more "
                    "sent this run"
                )
                return False
            if kind is Answer.SENT:
                self.sent_to.add(adapter.name)
                self._finish(
                    request_id,
                    SENT,
                    SENT,
                    attempt,
                    status,
                    answer.text[:2000],
                    sent=batch,
                    merge_delay_seconds=adapter.merge_delay_seconds,
                )
                return True
            self._finish(request_id, REJECTED, REJECTED, attempt, status, answer.text[:2000])
            return True
        self._finish(
            request_id,
            "failed",
            PENDING,
            self.policy.max_attempts,
            None,
            "gave up after retries; stays pending for the next run",
        )
        self.failures[adapter.name] = (
            f"{adapter.name}: no success after {self.policy.max_attempts} attempts; "
            "the rest stays pending for the next run"
        )
        return False

    def _finish(  # noqa: PLR0917
        self,
        request_id: str,
        status: str,
        row_status: str,
        attempts: int,
        http_status: int | None,
        answer: str | None,
        *,
        sent: Sequence[Item] = (),
        merge_delay_seconds: float | None = None,
    ) -> None:
        self.outbox.finish_request(
            request_id,
            status,
            row_status=row_status,
            attempts=attempts,
            http_status=http_status,
            answer=answer,
            now=self.now(),
            sent=sent,
            lost_answers=self._lost + (1 if status == IN_DOUBT else 0),
            merge_delay_seconds=merge_delay_seconds,
        )

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        if attempt >= self.policy.max_attempts:
            return
        delay = self.policy.backoff_seconds * 2 ** (attempt - 1)
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        self.sleep(min(delay, self.policy.max_backoff_seconds))

    def poll_feedback(self) -> None:
        """Store each platform's own error list (e.g. Ometria's `_errors`) for the report."""
        for adapter in self.adapters:
            if self.policy.dry_run_dir is not None or adapter.name in self.failures:
                continue
            if adapter.name not in self.sent_to:
                continue  # nothing sent this run: its list says nothing about this run
            self.sleep(adapter.feedback_wait_seconds)
            # The errors list is a platform request too: it shares the request budget.
            self.sleep(self.pacers[adapter.name].wait_time({"requests": 1}))
            self.pacers[adapter.name].record({"requests": 1})
            try:
                errors = adapter.feedback(self.session)
            except requests.RequestException as error:
                self.logger.warning(
                    "%s: could not read its error list: %s", adapter.name, type(error).__name__
                )
                continue
            self.outbox.save_feedback(adapter.name, self.run_id, errors, self.now())
