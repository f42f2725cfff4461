"""kill -9 during a bulk backfill: the re-run resumes the same job, losing and repeating nothing."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from manifest_truth import manifest, numbers
from shopify_emulator import generate_store
from singer_sdk.singerlib import SingerMessageType
from tap_runner import parse, run_tap, start_tap_process
from tap_shopify_history.streams.incremental import IncrementalShopifyStream
from tap_shopify_history.writer import BufferedMsgSpecWriter
from tap_truth import assert_matches_snapshot


def _read_until_bulk_state(process, deadline: float) -> list[bytes]:
    lines: list[bytes] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        message = json.loads(line)
        if message["type"] == "STATE" and "bulk" in str(message["value"]):
            return lines
    raise AssertionError("the tap never checkpointed a running bulk operation")


def bulk_queries(server, root: str) -> list[str]:
    """The incremental bulk jobs of one stream (the roster's job has no sort key)."""
    return [
        op.query
        for op in server.emulator.bulk.ops.values()
        if op.query.startswith(f"{{ {root}(") and "UPDATED_AT" in op.query
    ]


@pytest.mark.parametrize(
    "extra",
    [{"api_version": "2025-01"}, {"api_version": "2026-01", "bulk_window_max_records": 12}],
    ids=["one-job", "concurrent-jobs"],
)
def test_kill_during_bulk_backfill_resumes_the_same_job(emulator_factory, tmp_path, extra) -> None:
    store = generate_store(seed=31, customers=30, orders=40)
    server = emulator_factory(store=store, bulk_seconds=3.0)
    settings = {"store_url": server.base_url, "access_token": server.token}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**settings, "extraction_mode": "bulk", **extra}))
    process = start_tap_process(config)
    try:
        lines = _read_until_bulk_state(process, time.monotonic() + 60)
        os.kill(process.pid, signal.SIGKILL)  # while the customers job is still running
    finally:
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    killed = parse(b"".join(lines))
    state = killed.states[-1]
    job = state["bookmarks"]["customers"]["bulk"]["id"]
    assert job.startswith("gid://shopify/BulkOperation/")
    assert server.token not in json.dumps(state)
    submitted = len(bulk_queries(server, "customers"))
    queued = state["bookmarks"]["customers"].get("bulk_queue", [])
    assert submitted == 1 + len(queued)
    assert bool(queued) == ("bulk_window_max_records" in extra)  # several jobs at once

    server.emulator.bulk.bulk_seconds = 0.2  # later jobs (orders, roster) need not be slow
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    rerun = start_tap_process(config, state_file)
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr.decode()[-2000:]
    resumed = parse(stdout)
    assert f"resuming bulk operation {job}".encode() in stderr
    assert server.token.encode() not in stderr  # the token is never logged
    queries = bulk_queries(server, "customers")
    assert len(queries) == len(set(queries))  # no window was asked for twice
    if not queued:
        assert len(queries) == submitted  # the one job was resumed, not run again
    combined = parse(b"".join(lines) + stdout)
    assert_matches_snapshot(combined, server.control.snapshot())  # nothing lost, nothing twice
    assert "bulk" not in resumed.final_state["bookmarks"]["customers"]


def test_crash_while_emitting_a_bulk_result_resumes_without_loss_or_duplicates(
    emulator_factory, monkeypatch
) -> None:
    server = emulator_factory(
        store=generate_store(seed=33, customers=25, orders=10), bulk_seconds=0.2
    )
    config = {"store_url": server.base_url, "access_token": server.token, "extraction_mode": "bulk"}
    monkeypatch.setattr(IncrementalShopifyStream, "STATE_MSG_FREQUENCY", 5)
    original = BufferedMsgSpecWriter.write_message
    written = {"records": 0}

    def crash_at_13th_record(self, message):
        if message.type == SingerMessageType.RECORD:
            written["records"] += 1
            if written["records"] == 13:
                raise RuntimeError("simulated crash")
        original(self, message)

    monkeypatch.setattr(BufferedMsgSpecWriter, "write_message", crash_at_13th_record)
    crashed = run_tap(config, expect_error=True)
    monkeypatch.setattr(BufferedMsgSpecWriter, "write_message", original)

    # What a target committed: the records up to the last STATE it received.
    last_state_at = max(i for i, m in enumerate(crashed.messages) if m["type"] == "STATE")
    committed = [
        m["record"]["id"]
        for m in crashed.messages[:last_state_at]
        if m["type"] == "RECORD" and m["stream"] == "customers"
    ]
    state = crashed.messages[last_state_at]["value"]
    assert len(committed) == 10
    assert state["bookmarks"]["customers"]["bulk"]["emitted_through"]

    resumed = run_tap(config, state=state)
    again = resumed.ids("customers")
    assert not set(committed) & set(again)  # finished work is not repeated
    truth = sorted(c["id"] for c in server.control.snapshot()["customers"])
    assert sorted(committed + again) == truth  # and nothing is lost
    assert len(bulk_queries(server, "customers")) == 1  # the same job's result was reused
    # The resumed job's count was taken before it ran; what the crashed run emitted is
    # accounted for as already emitted.
    assert numbers(manifest(resumed)[("customers", "window")]) == {
        "shopify_count_before": 25,
        "shopify_count_after": 25,
        "emitted": 15,
        "excluded": {"already_emitted": 10},
    }
