"""A stopped tap exits non-zero after checkpointing; a resumed unusable bulk job is re-run."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from shopify_emulator import generate_store
from tap_runner import parse, run_tap, start_tap_process
from tap_truth import assert_matches_snapshot


def read_until_bulk_checkpoint(process, deadline: float) -> list[bytes]:
    lines: list[bytes] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        message = json.loads(line)
        if message["type"] == "STATE" and '"bulk"' in json.dumps(message["value"]):
            return lines
    raise AssertionError("the tap never checkpointed a running bulk operation")


def start_slow_bulk(emulator_factory, tmp_path, **faults):
    server = emulator_factory(
        store=generate_store(seed=81, customers=12, orders=12), bulk_seconds=4
    )
    if faults:
        server.control.set_faults(**faults)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"store_url": server.base_url, "access_token": server.token, "extraction_mode": "bulk"}
        )
    )
    return server, config, start_tap_process(config)


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_checkpoints_then_exits_non_zero(emulator_factory, tmp_path, signum, code) -> None:
    server, config, process = start_slow_bulk(emulator_factory, tmp_path)
    try:
        lines = read_until_bulk_checkpoint(process, time.monotonic() + 60)
        process.send_signal(signum)
        rest, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stderr.decode()[-2000:]
    stopped = parse(b"".join(lines) + rest)
    assert stopped.messages[-1]["type"] == "STATE"  # the checkpoint is the last word
    job = stopped.final_state["bookmarks"]["customers"]["bulk"]["id"]
    assert stopped.records("sync_manifest") == []  # a stopped run has no manifest

    server.emulator.bulk.bulk_seconds = 0.1
    resumed = run_tap(json.loads(config.read_text()), state=stopped.final_state)
    assert_matches_snapshot(
        type(resumed)(stopped.messages + resumed.messages), server.control.snapshot()
    )
    assert job.startswith("gid://shopify/BulkOperation/")


@pytest.mark.parametrize("outcome", ["TRUNCATED", "ACCESS_DENIED"])
def test_a_resumed_job_whose_result_is_unusable_is_run_again(
    emulator_factory, tmp_path, outcome
) -> None:
    server, config, process = start_slow_bulk(emulator_factory, tmp_path, bulk=outcome, bulk_next=1)
    try:
        lines = read_until_bulk_checkpoint(process, time.monotonic() + 60)
        os.kill(process.pid, signal.SIGKILL)  # the poisoned job is now in state
    finally:
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    killed = parse(b"".join(lines))
    poisoned = killed.final_state["bookmarks"]["customers"]["bulk"]["id"]

    server.emulator.bulk.bulk_seconds = 0.1
    resumed = run_tap(json.loads(config.read_text()), state=killed.final_state)
    assert_matches_snapshot(resumed, server.control.snapshot())
    ids = [s["bookmarks"]["customers"].get("bulk", {}).get("id") for s in resumed.states]
    assert poisoned in ids  # it was resumed first ...
    later = ids[ids.index(poisoned) + 1 :]
    assert poisoned not in later  # ... then dropped, never kept
    assert "bulk" not in resumed.final_state["bookmarks"]["customers"]
