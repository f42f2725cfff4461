"""kill -9 during a webhook pass: resumed from the last STATE it printed, nothing is lost.

A target commits what precedes a STATE, so after a kill the records after the last STATE
are gone. The rule (README, "The webhook queue"): the queue position is in STATE only after
every record its hints led to, so a rerun from that STATE fetches those hints again.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from shopify_emulator import generate_store
from shopify_webhooks.queue import WebhookQueue
from tap_runner import parse, run_tap, start_tap_process
from test_webhook_queue import config_for, position_in, put


@pytest.fixture
def store_and_baseline(emulator_factory):
    server = emulator_factory(store=generate_store(seed=31, customers=8, orders=16))
    first = run_tap({"store_url": server.base_url, "access_token": server.token})
    return server, first


def _committed(messages: list[dict]) -> list[dict]:
    """The messages a target would have committed: those before the last STATE."""
    last = max((i for i, m in enumerate(messages) if m["type"] == "STATE"), default=-1)
    return messages[: last + 1]


def test_a_pass_killed_midway_resumes_without_losing_a_hint(
    store_and_baseline, sqlite_url, tmp_path
):
    server, first = store_and_baseline
    snapshot = server.control.snapshot()
    customers = [c["id"] for c in snapshot["customers"]]
    orders = [o["id"] for o in snapshot["orders"] if not o["test"]]
    queue = WebhookQueue(sqlite_url)
    for cid in customers:
        put(queue, "customers/update", {"id": cid})
    for oid in orders:
        put(queue, "orders/updated", {"id": oid})
    last = put(
        queue, "customers/redact", {"customer": {"id": customers[0]}, "orders_to_redact": []}
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(server, sqlite_url, webhook_only=True)))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(first.final_state))

    # Every Admin API answer takes 0.4 s, so the pass is still fetching when it is killed.
    server.control.set_faults(slow_rate=1.0, slow_seconds=0.4)
    process = start_tap_process(config, state)
    time.sleep(1.5)
    os.kill(process.pid, signal.SIGKILL)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL  # it was still running
    killed = parse(stdout)
    committed = _committed(killed.messages)
    states = [m["value"] for m in committed if m["type"] == "STATE"]
    resume_from = states[-1] if states else first.final_state
    assert position_in(resume_from) != last  # the hints were not all consumed

    server.control.clear_faults()
    state.write_text(json.dumps(resume_from))
    rerun = start_tap_process(config, state)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()[-2000:]
    resumed = parse(out)

    def ids(messages: list[dict], stream: str) -> set[int]:
        return {
            m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream
        }

    assert ids(committed, "customers") | set(resumed.ids("customers")) == set(customers)
    assert ids(committed, "orders") | set(resumed.ids("orders")) == set(orders)
    requests = [r["request_id"] for r in resumed.records("privacy_requests")]
    assert len(requests) == 1
    assert position_in(resumed.final_state) == last
