"""Subprocess tests: STATE only after commit, kill -9 recovery, one sync per shop."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time

import pytest
import sqlalchemy as sa
from loyalty_records import (
    SHOP,
    TARGET_EXE,
    Messages,
    customer,
    ledger,
    order,
    query,
    run_target,
)
from target_loyalty.exceptions import SyncAlreadyRunningError

pytestmark = pytest.mark.slow


class LiveTarget:
    """A target process fed line by line, with its stdout read in the background."""

    def __init__(self, config_path):
        self.proc = subprocess.Popen(
            [TARGET_EXE, "--config", str(config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, messages: Messages):
        self.proc.stdin.write(messages.text())
        self.proc.stdin.flush()

    def next_state(self, timeout=30):
        return json.loads(self.lines.get(timeout=timeout))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sa.exc.DBAPIError:
            pass  # the target has not created its tables yet
        time.sleep(0.1)
    pytest.fail("condition not reached in time")


def write_config(tmp_path, url, **extra):
    path = tmp_path / f"config-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"database_url": url, "as_of": "2024-06-01T00:00:00Z", **extra}))
    return path


def orders(first, last, shop=SHOP):
    return [order(i, i % 7 + 1, f"{i}.50", shop=shop) for i in range(first, last + 1)]


def test_state_is_emitted_only_for_committed_data_and_kill9_replays(database_url, tmp_path):
    live = LiveTarget(write_config(tmp_path, database_url))
    live.send(Messages().records("orders", *orders(1, 50)).state({"orders": 50}))
    assert live.next_state() == {"orders": 50}
    # STATE printed => orders 1..50 are committed. More arrive, then the target dies.
    tail = Messages()
    tail._schemas.add("orders")
    live.send(tail.records("orders", *orders(51, 80)))
    time.sleep(0.5)
    live.kill9()
    assert live.lines.empty()  # no STATE for uncommitted records
    assert query(database_url, "SELECT count(*) FROM loyalty_orders")[0][0] == 50
    # Resume from the STATE, as the tap would (it may repeat a few records): the
    # result equals one clean run over everything.
    resume = Messages().records("orders", *orders(45, 80)).state({"orders": 80})
    assert run_target({"database_url": database_url, "as_of": "2024-06-01T00:00:00Z"}, resume) == [
        {"orders": 80}
    ]
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_target({"database_url": reference}, Messages().records("orders", *orders(1, 80)))
    assert ledger(database_url) == ledger(reference)
    statuses = sorted(r[0] for r in query(database_url, "SELECT status FROM loyalty_sync_runs"))
    assert statuses == ["abandoned", "incomplete"]  # no sync_manifest: the tap never finished


def test_one_sync_at_a_time_per_shop(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    holder = LiveTarget(config)
    holder.send(Messages().records("customers", customer(1)))
    wait_for(lambda: len(query(database_url, "SELECT * FROM loyalty_sync_locks")) == 1)
    [(run_id, started)] = query(database_url, "SELECT run_id, started_at FROM loyalty_sync_locks")

    # The second run is in-process (a subprocess start costs seconds); the holder is a
    # real process, so the lock is held across processes.
    cfg = json.loads(config.read_text())
    with pytest.raises(SyncAlreadyRunningError) as busy:
        run_target(cfg, Messages().records("orders", *orders(1, 3)))
    message = str(busy.value)
    assert f"a sync for shop {SHOP} is already running" in message
    assert run_id in message
    assert f"started {str(started)[:19].replace(' ', 'T')}" in message

    other = "other-store.myshopify.com"
    run_target(cfg, Messages().records("orders", *orders(1, 3, shop=other)))
    assert len(ledger(database_url, other)) == 3

    # A holder killed with -9 does not block the next run forever.
    holder.kill9()
    run_target(cfg, Messages().records("orders", *orders(1, 3)))
    rows = dict(
        query(
            database_url,
            "SELECT run_id, status FROM loyalty_sync_runs WHERE shop_domain = :s",
            s=SHOP,
        )
    )
    assert rows[run_id] == "abandoned"
    # The refused run is recorded as refused; the runs without a manifest are incomplete.
    assert sorted(rows.values()) == ["abandoned", "incomplete", "refused"]
    [(error,)] = query(database_url, "SELECT error FROM loyalty_sync_runs WHERE status = 'refused'")
    assert error == message
    assert query(database_url, "SELECT * FROM loyalty_sync_locks") == []


def test_sigterm_commits_and_releases_the_shop(sqlite_url, tmp_path):
    live = LiveTarget(write_config(tmp_path, sqlite_url))
    live.send(Messages().records("orders", *orders(1, 20)).state({"orders": 20}))
    assert live.next_state() == {"orders": 20}
    tail = Messages()
    tail._schemas.add("orders")
    live.send(tail.records("orders", *orders(21, 30)))
    time.sleep(0.5)
    live.proc.send_signal(signal.SIGTERM)
    live.proc.wait(timeout=30)
    # singer-sdk drains on SIGTERM: everything received is committed, then released.
    assert query(sqlite_url, "SELECT count(*) FROM loyalty_orders")[0][0] == 30
    [(status, error)] = query(sqlite_url, "SELECT status, error FROM loyalty_sync_runs")
    assert status == "failed"
    assert "signal" in error
    assert query(sqlite_url, "SELECT * FROM loyalty_sync_locks") == []


def test_the_lock_lease_setting_keeps_its_former_name(caplog):
    from datetime import timedelta  # noqa: PLC0415

    from target_loyalty.exceptions import InvalidConfigError  # noqa: PLC0415
    from target_loyalty.settings import lock_lease_from_config  # noqa: PLC0415

    assert lock_lease_from_config({}) == timedelta(hours=1)
    assert lock_lease_from_config({"lock_lease_seconds": 60}) == timedelta(minutes=1)
    former = {"lock_stale_after_seconds": 120}
    assert lock_lease_from_config(former) == timedelta(minutes=2)
    assert "lock_stale_after_seconds is deprecated: use lock_lease_seconds" in caplog.text
    assert lock_lease_from_config({**former, "lock_lease_seconds": 60}) == timedelta(minutes=1)
    with pytest.raises(InvalidConfigError, match="lock_lease_seconds"):
        lock_lease_from_config({"lock_lease_seconds": -1})
