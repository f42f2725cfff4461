"""Safety: one sync per shop and store; STATE only for committed data, even under kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from crm_records import Feed, customer, order
from target_crm.exceptions import SyncAlreadyRunningError
from target_crm.runs import RunLedger
from target_crm.storage import create_store

TARGET = str(Path(sys.executable).parent / "target-crm")


def q(url, sql):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def start(config_path, **kwargs):
    return subprocess.Popen(
        [TARGET, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            pass  # the target has not created its tables yet
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def write_config(tmp_path, url, **extra):
    path = tmp_path / f"config-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"database_url": url, **extra}))
    return path


def test_one_sync_per_shop_and_store(tmp_path, database_url):
    config = write_config(tmp_path, database_url)
    holder = start(config)
    try:
        holder.stdin.write(Feed().customers(customer(1)).text())
        holder.stdin.flush()
        wait_for(lambda: q(database_url, "select run_id from sync_locks") != [])
        ((run_id,),) = q(database_url, "select run_id from sync_locks")
        second = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
            [TARGET, "--config", str(config)],
            input=Feed().customers(customer(2)).text(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "another sync is running for shop demo-store.myshopify.com" in second.stderr
        assert run_id in second.stderr
        refused = q(
            database_url,
            "select status from sync_runs where run_id != :r".replace(":r", f"'{run_id}'"),
        )
        assert refused == [("refused",)]  # recorded, never left running
        other_shop = Feed().customers(customer(3, shop="other.myshopify.com")).text()
        third = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
            [TARGET, "--config", str(config)],
            input=other_shop,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert third.returncode == 0, third.stderr
        assert q(database_url, "select shop_domain from contacts where customer_id = 3") == [
            ("other.myshopify.com",)
        ]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # A run killed with -9 does not block the next one: its pid is gone.
    fourth = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        [TARGET, "--config", str(config)],
        input=Feed().customers(customer(4)).text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fourth.returncode == 0, fourth.stderr
    statuses = dict(q(database_url, "select run_id, status from sync_runs"))
    assert statuses[run_id] == "abandoned"
    assert q(database_url, "select count(*) from sync_locks") == [(0,)]


def big_feed(n_orders, every):
    feed = Feed()
    feed.customers(*(customer(i) for i in range(1, 201)))
    feed.state({"position": 0})
    for i in range(1, n_orders + 1):
        feed.orders(order(i, (i % 200) + 1))
        if i % every == 0:
            feed.state({"position": i})
    return feed


def store_view(url):
    return (
        q(url, "select customer_id, order_count, lifetime_value from contacts order by 1"),
        q(url, "select event_id, customer_id, triggers_automations from events order by 1"),
        q(url, "select order_id, contact_customer_id, net_value from orders order by 1"),
    )


def test_kill_9_state_only_for_committed_data_and_replay_converges(tmp_path):
    n, every = 12000, 500
    feed = big_feed(n, every)
    killed_url = f"sqlite:///{tmp_path}/killed.db"
    clean_url = f"sqlite:///{tmp_path}/clean.db"
    source = tmp_path / "feed.singer"
    source.write_text(feed.text())
    config = write_config(tmp_path, killed_url, batch_size_rows=100000)
    with source.open() as stdin:
        proc = subprocess.Popen(
            [TARGET, "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        states = []
        for line in proc.stdout:
            states.append(json.loads(line))
            if len(states) >= 4:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    last = states[-1]["position"]
    assert 0 < last < n, "the kill must land mid-run"
    committed = {r[0] for r in q(killed_url, "select order_id from orders")}
    assert set(range(1, last + 1)) <= committed  # every STATE printed covers committed data
    # Resume as the tap would: from the bookmark, with the rest of the stream.
    rest = Feed()
    rest.customers(*(customer(i) for i in range(1, 201)))
    rest.orders(*(order(i, (i % 200) + 1) for i in range(last + 1, n + 1)))
    for url, text in ((killed_url, rest.text()), (clean_url, feed.text())):
        done = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
            [TARGET, "--config", str(write_config(tmp_path, url))],
            input=text,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert store_view(killed_url) == store_view(clean_url)


def test_sigterm_commits_emits_state_and_records_the_end(tmp_path, sqlite_url):
    proc = start(write_config(tmp_path, sqlite_url))
    proc.stdin.write(
        Feed().customers(customer(1), customer(2)).state({"at": 2}).customers(customer(3)).text()
    )
    proc.stdin.flush()
    wait_for(lambda: q(sqlite_url, "select count(*) from contacts") == [(2,)])
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert [json.loads(line) for line in out.splitlines()] == [{"at": 2}]
    assert q(sqlite_url, "select status, error from sync_runs") == [
        ("incomplete", "stopped by signal 15")
    ]
    # customer 3 is committed if the reader had taken it before the signal; never half-done
    assert q(sqlite_url, "select count(*) from contacts") in ([(2,)], [(3,)])
    assert q(sqlite_url, "select count(*) from sync_locks") == [(0,)]


def test_lock_rules_for_other_hosts_and_dead_pids(sqlite_url):
    engine = create_store(sqlite_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    holder = RunLedger(engine, "holder", lease_seconds=60)
    holder.start(now)
    holder.acquire("a.myshopify.com", now)
    with engine.begin() as conn:  # pretend the holder runs on another host
        conn.execute(sa.text("update sync_locks set hostname = 'elsewhere'"))
    other = RunLedger(engine, "other", lease_seconds=60)
    other.start(now)
    with pytest.raises(SyncAlreadyRunningError, match=r"run holder .* started at 2026-01-01T00:00"):
        other.acquire("a.myshopify.com", now + timedelta(seconds=30))
    other.acquire("a.myshopify.com", now + timedelta(seconds=61))  # lease expired
    assert q(sqlite_url, "select run_id from sync_locks") == [("other",)]
    assert dict(q(sqlite_url, "select run_id, status from sync_runs"))["holder"] == "abandoned"
    engine.dispose()
