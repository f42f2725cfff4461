"""The platform-neutral delivery engine: pack, pace, send, retry, record (README "Delivery")."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests
from sqlalchemy.engine import Connection, Engine
from target_runtime.delivery.items import IN_DOUBT, PENDING, REJECTED, SENT, Item, OutboxRow, encode

from target_crm.delivery import outbox
from target_crm.delivery.common import contact_key

LOGGER = logging.getLogger("target_crm.delivery")


class Adapter(Protocol):
    """What the engine needs from one platform."""

    name: str
    resend_in_doubt: bool
    windows: Mapping[str, tuple[int, float]]  # unit -> (most per window, window seconds)
    feedback_wait_seconds: float  # how long the platform takes to validate what it took
    # Seconds after a contact's user id changed before the old user is merged into the new
    # one (a `merge` outbox row); None: the platform keys users by something that does not
    # change, or merging is off, and the change is only recorded and reported.
    merge_delay_seconds: float | None

    def build(self, conn: Connection, rows: Sequence[OutboxRow], now: datetime) -> list[Item]:
        """Turn pending rows into payloads or local outcomes."""

    def pack(self, items: Sequence[Item]) -> list[list[Item]]:
        """Fill requests to the platform's limits."""

    def request(self, items: Sequence[Item]) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body of one request."""

    def feedback(self, session: requests.Session) -> list[tuple[str, str]]:
        """The platform's own record errors, if it lists any."""


@dataclass
class Policy:
    """Retry and timing settings."""

    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 30.0
    dry_run_dir: Path | None = None


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


def _connection_never_made(error: requests.RequestException) -> bool:
    """True when the request surely never reached the platform (safe to retry)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text


def _units(items: Sequence[Item]) -> dict[str, int]:
    units = {"requests": 1}
    for item in items:
        for unit, n in item.units.items():
            units[unit] = units.get(unit, 0) + n
    return units


class DeliveryEngine:
    """Drains each destination's outbox after a committed batch and at the end of a run."""

    def __init__(
        self,
        store: Engine,
        adapters: Sequence[Adapter],
        run_id: str,
        policy: Policy,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keep the store, the adapters and one HTTP session."""
        self.store, self.adapters, self.run_id, self.policy = store, adapters, run_id, policy
        self.now, self.sleep = now, sleep
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
                outbox.backfill(self.store, adapter.name, self.now())
                n = outbox.recover(
                    self.store, adapter.name, resend=adapter.resend_in_doubt, now=self.now()
                )
                if n:
                    LOGGER.warning(
                        "%s: %d request(s) in doubt from an interrupted run", adapter.name, n
                    )
                self._recovered.add(adapter.name)
            outbox.release_due(self.store, adapter.name, self.now())
            self._drain_one(adapter)

    def _drain_one(self, adapter: Adapter) -> None:
        while True:
            rows = outbox.pending(self.store, adapter.name, 5000)
            if not rows:
                return
            with self.store.connect() as conn:
                items = adapter.build(conn, rows, self.now())
            local = [i for i in items if i.outcome is not None]
            outbox.settle_local(self.store, adapter.name, local, self.run_id)
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
        outbox.start_request(
            self.store, adapter.name, request_id, self.run_id, batch, len(body), self.now()
        )
        units = _units(batch)
        self._lost = 0
        for attempt in range(1, self.policy.max_attempts + 1):
            self.sleep(self.pacers[adapter.name].wait_time(units))
            try:
                answer = self.session.post(
                    url, data=body, headers=headers, timeout=self.policy.timeout_seconds
                )
            except requests.RequestException as error:
                self.pacers[adapter.name].record(units)
                if _connection_never_made(error) or adapter.resend_in_doubt:
                    # Idempotent platform: a lost answer is re-sent, and counted.
                    self._lost += 0 if _connection_never_made(error) else 1
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
            if status == 429 or status >= 500:
                queue = answer.headers.get("X-QueueSize-Remaining")
                LOGGER.info(
                    "%s: HTTP %d on attempt %d%s",
                    adapter.name,
                    status,
                    attempt,
                    f" (queue remaining {queue})" if queue is not None else "",
                )
                self._backoff(attempt, answer.headers.get("Retry-After"))
                continue
            if status in (401, 403):
                self._finish(
                    request_id, "failed", PENDING, attempt, status, "authentication failed"
                )
                # Fatal for this destination only: the CRM store keeps loading, the rows
                # stay pending for a run with a good key, and the run ends failed.
                self.failures[adapter.name] = (
                    f"{adapter.name} refused the credentials (HTTP {status}); nothing more "
                    "sent this run"
                )
                return False
            if 200 <= status < 300:
                self.sent_to.add(adapter.name)
                hashes = {(i.row.entity, i.row.entity_key): i.digest for i in batch}
                identities = [
                    (*contact_key(i.row), i.identity) for i in batch if i.identity is not None
                ]
                self._finish(
                    request_id,
                    SENT,
                    SENT,
                    attempt,
                    status,
                    answer.text[:2000],
                    hashes,
                    identities=identities,
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
        hashes: dict[tuple[str, str], str] | None = None,
        *,
        identities: Sequence[outbox.Identity] = (),
        merge_delay_seconds: float | None = None,
    ) -> None:
        outbox.finish_request(
            self.store,
            request_id,
            status,
            row_status=row_status,
            attempts=attempts,
            http_status=http_status,
            answer=answer,
            now=self.now(),
            hashes=hashes,
            lost_answers=self._lost + (1 if status == IN_DOUBT else 0),
            identities=identities,
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
        """Store each platform's own error list (Ometria's `_errors`) for the report."""
        from target_crm.delivery.report import save_feedback  # noqa: PLC0415

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
                LOGGER.warning(
                    "%s: could not read its error list: %s", adapter.name, type(error).__name__
                )
                continue
            save_feedback(self.store, adapter.name, self.run_id, errors, self.now())


def body_of(envelope: Mapping[str, Any] | list[Any]) -> bytes:
    """A request body, compact JSON."""
    return encode(envelope)
