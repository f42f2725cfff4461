"""Test doubles for the protocol layer: a fake clock and a scripted GraphQL transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class FakeClock:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class ScriptedSession:
    """A requests.Session stand-in answering from a script of callables or responses."""

    def __init__(self, answers: list[FakeResponse | Exception | Callable[[dict], FakeResponse]]):
        self.headers: dict[str, str] = {}
        self.answers = list(answers)
        self.payloads: list[dict] = []

    def post(self, url: str, json: dict, timeout: float) -> FakeResponse:
        self.payloads.append(json)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(json)
        return answer


def throttle(available: float, maximum: float = 1000.0, restore: float = 50.0) -> dict:
    return {
        "maximumAvailable": maximum,
        "currentlyAvailable": available,
        "restoreRate": restore,
    }


def ok(
    data: dict, *, requested: float = 10, actual: float = 10, available: float = 990
) -> FakeResponse:
    return FakeResponse(
        200,
        {
            "data": data,
            "extensions": {
                "cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": actual,
                    "throttleStatus": throttle(available),
                }
            },
        },
    )


def throttled(available: float, requested: float) -> FakeResponse:
    return FakeResponse(
        200,
        {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {
                "cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": None,
                    "throttleStatus": throttle(available),
                }
            },
        },
    )
