"""Bulk runner (status handlers, adaptive polling), window planning and the bookmark edge."""

from __future__ import annotations

import itertools

import pytest
from tap_fakes import FakeClock, ScriptedSession, ok
from tap_shopify_history.recent import RecentEmissions
from tap_shopify_history.shopify.bulk import BulkRunner, BulkStatus, PollSchedule
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import (
    BulkOperationError,
    BulkOperationExpiredError,
)
from tap_shopify_history.shopify.extract import Window, plan_windows


def op(status: str, **extra) -> dict:
    return {
        "node": {
            "id": "gid://shopify/BulkOperation/1",
            "status": status,
            "objectCount": "0",
            **extra,
        }
    }


def runner_with(answers) -> tuple[BulkRunner, FakeClock, ScriptedSession]:
    clock = FakeClock()
    session = ScriptedSession(answers)
    client = GraphQLClient(
        "http://x/graphql.json", "t", session=session, clock=clock, sleep=clock.sleep
    )  # type: ignore[arg-type]
    return BulkRunner(client, clock.sleep, group_objects=True), clock, session


def test_poll_interval_is_adaptive_not_fixed() -> None:
    polls = [ok(op("CREATED"))] + [ok(op("RUNNING"))] * 30
    polls.append(ok(op("COMPLETED", objectCount="3", url="http://x/file.jsonl")))
    runner, clock, _ = runner_with(polls)
    result = runner.wait("gid://shopify/BulkOperation/1")
    assert result.url == "http://x/file.jsonl"
    assert not result.partial
    assert result.operation.status is BulkStatus.COMPLETED
    assert result.operation.object_count == 3
    assert clock.sleeps[0] == pytest.approx(0.2)
    assert clock.sleeps == sorted(clock.sleeps)
    assert clock.sleeps[-1] > clock.sleeps[0] * 5
    # Each wait is at most ~15% of the time already waited, so little is lost at the end.
    waited = 0.0
    for delay in clock.sleeps:
        assert delay <= max(0.2, 0.15 * waited) + 1e-9
        waited += delay


def test_poll_schedule_is_capped() -> None:
    schedule = PollSchedule(initial=1, share=0.5, maximum=5)
    assert [schedule.next_delay() for _ in range(7)] == [1, 1, 1, 1.5, 2.25, 3.375, 5]


def test_failed_with_partial_data_is_used() -> None:
    runner, _, _ = runner_with([ok(op("FAILED", errorCode="TIMEOUT", partialDataUrl="http://x/p"))])
    result = runner.wait("gid://shopify/BulkOperation/1")
    assert result.partial
    assert result.url == "http://x/p"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("FAILED", BulkOperationError),
        ("CANCELED", BulkOperationExpiredError),
        ("EXPIRED", BulkOperationExpiredError),
    ],
)
def test_final_statuses_without_data_raise(status: str, error: type[Exception]) -> None:
    runner, _, _ = runner_with([ok(op(status, errorCode="INTERNAL_SERVER_ERROR"))])
    with pytest.raises(error):
        runner.wait("gid://shopify/BulkOperation/1")


def test_missing_operation_is_expired() -> None:
    runner, _, _ = runner_with([ok({"node": None})])
    with pytest.raises(BulkOperationExpiredError):
        runner.poll("gid://shopify/BulkOperation/404")


def test_submit_waits_for_an_operation_in_progress() -> None:
    busy = {
        "bulkOperationRunQuery": {
            "bulkOperation": None,
            "userErrors": [
                {
                    "field": None,
                    "message": "A bulk query operation for this app and shop is already in"
                    " progress",
                    "code": "OPERATION_IN_PROGRESS",
                }
            ],
        }
    }
    current_running = {
        "currentBulkOperation": {"id": "gid://shopify/BulkOperation/0", "status": "RUNNING"}
    }
    current_done = {
        "currentBulkOperation": {"id": "gid://shopify/BulkOperation/0", "status": "COMPLETED"}
    }
    accepted = {
        "bulkOperationRunQuery": {
            "bulkOperation": {"id": "gid://shopify/BulkOperation/2", "status": "CREATED"},
            "userErrors": [],
        }
    }
    runner, clock, session = runner_with(
        [ok(busy), ok(current_running), ok(current_done), ok(accepted)]
    )
    assert (
        runner.submit("{ customers { edges { node { id } } } }") == "gid://shopify/BulkOperation/2"
    )
    assert session.payloads[0]["variables"]["groupObjects"] is True
    assert len(clock.sleeps) == 1


def test_plan_windows_splits_by_count() -> None:
    # 100 records, one per hour from midnight; each window must hold at most 30.
    def count(window: Window) -> int:
        start = int(window.start[11:13]) + 24 * (int(window.start[8:10]) - 1)
        end = int(window.end[11:13]) + 24 * (int(window.end[8:10]) - 1)
        return max(0, min(end, 100) - start)

    windows = plan_windows(Window("2024-01-01T00:00:00Z", "2024-01-05T04:00:00Z"), count, 30)
    assert all(count(w) <= 30 for w in windows)
    assert sum(count(w) for w in windows) == 100
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))


def test_window_search_filter() -> None:
    window = Window("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
    assert window.search(("test:false",)) == (
        "test:false AND updated_at:>='2024-01-01T00:00:00Z' AND updated_at:<'2024-02-01T00:00:00Z'"
    )
    assert Window(None, None).search() is None


def test_recent_emissions_drop_only_versions_already_emitted() -> None:
    recent = RecentEmissions({"1": "2024-01-01T00:00:10Z"}, lookback_seconds=60)
    assert recent.already_emitted(1, "2024-01-01T00:00:10Z")
    assert not recent.already_emitted(1, "2024-01-01T00:00:11Z")  # changed since: emit
    assert not recent.already_emitted(2, "2024-01-01T00:00:10Z")  # same second, unseen: emit
    recent.add(2, "2024-01-01T00:05:00Z", bookmark="2024-01-01T00:05:00Z")
    recent.prune("2024-01-01T00:05:00Z")
    assert recent.mapping == {"2": "2024-01-01T00:05:00Z"}
