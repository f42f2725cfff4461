"""The platform-neutral delivery engine over an in-memory outbox and a scripted platform."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from target_runtime.delivery.engine import (
    Answer,
    DeliveryEngine,
    Policy,
    classify_answer,
    request_units,
)
from target_runtime.delivery.items import IN_DOUBT, PENDING, REJECTED, SENT, Item, OutboxRow, pack
from target_runtime.delivery.pacing import Pacer

NOW = datetime(2026, 12, 4, tzinfo=UTC)


@dataclass
class MemoryOutbox:
    """Rows by key with their status; requests by id with what the engine said of them."""

    rows: dict[str, str]
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: list[Any] = field(default_factory=list)
    prepared: list[tuple[str, bool]] = field(default_factory=list)

    def prepare(self, destination: str, *, resend_in_doubt: bool, now: datetime) -> int:
        self.prepared.append((destination, resend_in_doubt))
        return 0

    def release_due(self, destination: str, now: datetime) -> int:
        return 0

    def pending(self, destination: str, limit: int) -> list[OutboxRow]:
        keys = [k for k, status in self.rows.items() if status == PENDING][:limit]
        return [OutboxRow("contact", k, "s", 0) for k in keys]

    @contextlib.contextmanager
    def reading(self) -> Iterator[str]:
        yield "reader"

    def settle_local(self, destination: str, items: Sequence[Item], run_id: str) -> None:
        for item in items:
            self.rows[item.row.entity_key] = str(item.outcome)

    def start_request(
        self,
        destination: str,
        request_id: str,
        run_id: str,
        items: Sequence[Item],
        size: int,
        now: datetime,
    ) -> None:
        self.requests[request_id] = {"keys": [i.row.entity_key for i in items]}
        for item in items:
            self.rows[item.row.entity_key] = "sending"

    def finish_request(self, request_id: str, status: str, **done: Any) -> None:
        request = self.requests[request_id]
        request.update(done, status=status, sent=[i.row.entity_key for i in done["sent"]])
        for key in request["keys"]:
            self.rows[key] = done["row_status"]

    def save_feedback(
        self, destination: str, run_id: str, errors: list[tuple[str, str]], now: datetime
    ) -> None:
        self.feedback.append((destination, run_id, errors))


@dataclass
class Platform:
    """An adapter whose requests carry two items each; `skip` keys are settled locally."""

    name: str = "example"
    resend_in_doubt: bool = False
    windows: Mapping[str, tuple[int, float]] = field(default_factory=lambda: {"requests": (2, 1.0)})
    feedback_wait_seconds: float = 0.0
    merge_delay_seconds: float | None = None
    skip: frozenset[str] = frozenset()

    def build(self, conn: Any, rows: Sequence[OutboxRow], now: datetime) -> list[Item]:
        assert conn == "reader"
        return [
            Item(r, outcome="skipped", reason="no email")
            if r.entity_key in self.skip
            else Item(r, payload={"id": r.entity_key})
            for r in rows
        ]

    def pack(self, items: Sequence[Item]) -> list[list[Item]]:
        return pack(items, max_items=2, max_bytes=10_000, overhead=2)

    def request(self, items: Sequence[Item]) -> tuple[str, dict[str, str], bytes]:
        return "http://127.0.0.1:9/x", {}, b"[" + b",".join(i.encoded for i in items) + b"]"

    def feedback(self, session: requests.Session) -> list[tuple[str, str]]:
        return [("bad email", "a")]


class Answered:
    def __init__(self, status: int, headers: Mapping[str, str] | None = None) -> None:
        self.status_code, self.headers, self.text = status, dict(headers or {}), f"HTTP {status}"


class ScriptedSession:
    """Answers (or raises) from a script, one entry per post; records what was posted."""

    def __init__(self, script: list[Any]) -> None:
        self.script, self.posted = list(script), []

    def post(self, url: str, **sent: Any) -> Answered:
        self.posted.append(sent["data"])
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Answered(answer) if isinstance(answer, int) else answer


def run(
    rows: dict[str, str], script: list[Any], platform: Platform | None = None, **policy: Any
) -> tuple[DeliveryEngine, MemoryOutbox, list[float]]:
    box, waits, ticks = MemoryOutbox(rows), [], iter(range(10_000))
    engine = DeliveryEngine(
        box,
        [platform or Platform()],
        "run-1",
        Policy(**policy),
        now=lambda: NOW,
        sleep=waits.append,
        clock=lambda: float(next(ticks)) * 10,  # every window has passed at every look
    )
    engine.session = ScriptedSession(script)  # type: ignore[assignment]
    engine.drain()
    return engine, box, waits


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, Answer.SENT),
        (202, Answer.SENT),
        (429, Answer.RETRY),
        (500, Answer.RETRY),
        (503, Answer.RETRY),
        (401, Answer.AUTHENTICATION),
        (403, Answer.AUTHENTICATION),
        (400, Answer.REJECTED),
        (404, Answer.REJECTED),
        (302, Answer.REJECTED),
    ],
)
def test_answers_are_classified(status: int, kind: Answer) -> None:
    assert classify_answer(status) is kind


def test_sent_rows_and_local_outcomes() -> None:
    engine, box, _ = run(
        {"a": PENDING, "b": PENDING, "c": PENDING, "d": PENDING}, [200], Platform(skip={"c", "d"})
    )
    assert box.rows == {"a": SENT, "b": SENT, "c": "skipped", "d": "skipped"}
    (request,) = box.requests.values()
    assert (request["status"], request["sent"], request["attempts"]) == (SENT, ["a", "b"], 1)
    assert box.prepared == [("example", False)]
    engine.poll_feedback()
    assert box.feedback == [("example", "run-1", [("bad email", "a")])]


def test_retries_back_off_then_reject_on_a_client_error() -> None:
    _, box, waits = run({"a": PENDING}, [429, 500, 400], backoff_seconds=2, max_backoff_seconds=3)
    (request,) = box.requests.values()
    assert (request["status"], request["attempts"], request["sent"]) == (REJECTED, 3, [])
    assert box.rows == {"a": REJECTED}
    assert [w for w in waits if w] == [2, 3]  # doubling, capped


def test_bad_credentials_stop_the_destination_and_keep_rows_pending() -> None:
    engine, box, _ = run({"a": PENDING, "b": PENDING, "c": PENDING}, [401])
    assert engine.stopped == {"example"}
    assert "refused the credentials (HTTP 401)" in engine.failures["example"]
    assert box.rows == {"a": PENDING, "b": PENDING, "c": PENDING}
    assert len(box.requests) == 1  # the second request was never made


def test_lost_answer_is_in_doubt_unless_the_platform_is_idempotent() -> None:
    lost = requests.exceptions.ReadTimeout("read timed out")
    _, box, _ = run({"a": PENDING}, [lost])
    (request,) = box.requests.values()
    assert (request["status"], request["lost_answers"], box.rows) == (IN_DOUBT, 1, {"a": IN_DOUBT})
    _, box, _ = run({"a": PENDING}, [lost, 200], Platform(resend_in_doubt=True))
    (request,) = box.requests.values()
    assert (request["status"], request["lost_answers"], box.rows) == (SENT, 1, {"a": SENT})


def test_refused_connection_is_retried_and_giving_up_leaves_rows_pending() -> None:
    refused = requests.exceptions.ConnectionError("Connection refused")
    engine, box, _ = run({"a": PENDING}, [refused] * 3, max_attempts=3)
    (request,) = box.requests.values()
    assert (request["status"], request["lost_answers"], box.rows) == ("failed", 0, {"a": PENDING})
    assert "no success after 3 attempts" in engine.failures["example"]


def test_pacer_waits_until_the_oldest_request_leaves_the_window() -> None:
    now = [0.0]
    pacer = Pacer({"requests": (2, 10.0), "users": (5, 60.0)}, lambda: now[0])
    pacer.record({"requests": 1, "users": 3})
    now[0] = 1.0
    pacer.record({"requests": 1, "users": 1})
    now[0] = 2.0
    assert pacer.wait_time({"requests": 1}) == pytest.approx(8.002)  # 0.0 + 10 - 2
    assert pacer.wait_time({"requests": 0, "users": 1}) == 0.0
    assert pacer.wait_time({"users": 2}) == pytest.approx(58.002)  # 3 users must leave first
    now[0] = 10.0
    assert pacer.wait_time({"requests": 1}) == 0.0


def test_request_units_add_each_items_units() -> None:
    row = OutboxRow("event", "e", "s", 0)
    items = [Item(row, {}, units={"events": 2}), Item(row, {}, units={"events": 1, "users": 1})]
    assert request_units(items) == {"requests": 1, "events": 3, "users": 1}
