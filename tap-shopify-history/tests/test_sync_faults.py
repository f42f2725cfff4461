"""Each emulator fault is survived or reported clearly; auth and scope problems fail fast."""

from __future__ import annotations

import pytest
from shopify_emulator import generate_store
from tap_runner import run_tap
from tap_shopify_history.exceptions import ShopifySyncError
from tap_truth import assert_matches_snapshot


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


@pytest.fixture
def small(emulator_factory):
    return emulator_factory(
        store=generate_store(seed=41, customers=12, orders=30), plan="plus", bulk_seconds=0.2
    )


def test_throttling_5xx_dropped_and_slow_connections_are_survived(small) -> None:
    small.control.set_faults(
        throttle_next=4, error_next=3, drop_next=2, slow_next=1, slow_seconds=3
    )
    output = run_tap(
        config_for(small, extraction_mode="paginated", request_timeout=1, max_retries=6)
    )
    assert_matches_snapshot(output, small.control.snapshot())


@pytest.mark.parametrize("outcome", ["TIMEOUT", "FAILED"])
def test_failed_bulk_with_partial_data_uses_it_and_requests_the_rest(small, outcome) -> None:
    small.control.set_faults(bulk=outcome, bulk_next=1)
    output = run_tap(config_for(small, extraction_mode="bulk"))
    assert_matches_snapshot(output, small.control.snapshot())
    jobs = [op for op in small.emulator.bulk.ops.values() if "UPDATED_AT" in op.query]
    assert len(jobs) == 3  # the failed customers job, its remainder, then orders


def test_expired_bulk_operation_is_run_again(small) -> None:
    small.control.set_faults(bulk="EXPIRED", bulk_next=1)
    output = run_tap(config_for(small, extraction_mode="bulk"))
    assert_matches_snapshot(output, small.control.snapshot())


@pytest.mark.parametrize("outcome", ["TRUNCATED", "ACCESS_DENIED", "EXPIRED"])
def test_an_unusable_bulk_result_once_is_run_again_and_the_run_completes(small, outcome) -> None:
    small.control.set_faults(bulk=outcome, bulk_next=1)
    output = run_tap(config_for(small, extraction_mode="bulk"))
    assert_matches_snapshot(output, small.control.snapshot())
    customers_jobs = [op for op in small.emulator.bulk.ops.values() if "customers(" in op.query]
    assert len([j for j in customers_jobs if "UPDATED_AT" in j.query]) == 2


def job_ids(output) -> list[str]:
    return [
        job["id"]
        for s in output.states
        for stream in s["bookmarks"].values()
        for job in [stream.get("bulk") or {}, *stream.get("bulk_queue", [])]
        if job.get("id")
    ]


@pytest.mark.parametrize("outcome", ["TRUNCATED", "ACCESS_DENIED", "EXPIRED", "FAILED"])
def test_a_bulk_job_that_always_fails_is_bounded_and_a_rerun_recovers(small, outcome) -> None:
    small.control.set_faults(bulk=outcome)  # every bulk operation
    config = config_for(small, extraction_mode="bulk", bulk_max_attempts=2)
    failed = run_tap(config, expect_error=True)
    message = str(failed.error)
    assert isinstance(failed.error, ShopifySyncError)
    assert "customers" in message
    assert "bulk_max_attempts=2" in message
    assert "running the sync again" in message
    state = failed.final_state
    assert "id" not in (state["bookmarks"]["customers"].get("bulk") or {})  # no poisoned job
    jobs = [op for op in small.emulator.bulk.ops.values() if "UPDATED_AT" in op.query]
    if outcome != "FAILED":  # FAILED brings partial data: each attempt makes progress
        assert len(jobs) == 2
    small.control.clear_faults()
    rerun = run_tap(config, state=state)
    emitted_before = failed.ids("customers")
    assert not set(emitted_before) & set(rerun.ids("customers"))  # nothing twice
    combined = type(rerun)(failed.messages + rerun.messages)
    assert_matches_snapshot(combined, small.control.snapshot())  # nothing lost


def test_a_bulk_job_running_too_long_is_canceled_and_the_run_fails_clearly(
    emulator_factory,
) -> None:
    server = emulator_factory(store=generate_store(seed=42, customers=5, orders=5), bulk_seconds=30)
    config = config_for(server, extraction_mode="bulk", bulk_max_wait_seconds=1)
    failed = run_tap(config, expect_error=True)
    assert "bulk_max_wait_seconds=1" in str(failed.error)
    assert "id" not in (failed.final_state["bookmarks"]["customers"].get("bulk") or {})
    assert [op.canceled_at is not None for op in server.emulator.bulk.ops.values()] == [True]


def test_persistent_server_errors_fail_after_max_retries(small) -> None:
    small.control.set_faults(error_rate=1.0)
    output = run_tap(config_for(small, max_retries=1), expect_error=True)
    assert "gave up after 1 retries" in str(output.error)
    assert "503" in str(output.error)


def test_bad_token_is_fatal_without_showing_it(small) -> None:
    token = "shpat_not_a_real_token_0123456789"
    output = run_tap({"store_url": small.base_url, "access_token": token}, expect_error=True)
    assert "HTTP 401" in str(output.error)
    assert token not in str(output.error)
    assert output.records("customers") == []


def test_long_backfill_without_read_all_orders_fails_clearly(small) -> None:
    token = small.control.issue_token(["read_customers", "read_orders"])
    config = {"store_url": small.base_url, "access_token": token}
    output = run_tap({**config, "sync_range": "last_year"}, expect_error=True)
    assert "read_all_orders" in str(output.error)
    assert output.records("customers") == []  # checked before any stream emits
    assert output.records("orders") == []
    recent = run_tap({**config, "sync_range": "last_30_days"})  # within 60 days: fine
    assert recent.records("customers")


@pytest.mark.parametrize("mode", ["paginated", "bulk"])
def test_protected_customer_data_denial_is_one_clear_error(small, mode) -> None:
    small.control.set_protected_data_denied(True)
    output = run_tap(config_for(small, extraction_mode=mode), expect_error=True)
    message = str(output.error)
    assert "protected customer data" in message
    assert "email" in message
    assert "level 2" in message
    assert message.count("not approved") == 0  # one summary, not a message per record
