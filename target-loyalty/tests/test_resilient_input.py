"""Bad input lines, stale customer versions and live SQLite locks (issue 11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest
import sqlalchemy as sa
from loyalty_records import (
    SHOP,
    Messages,
    customer,
    manifest_row,
    order,
    query,
    run_cli,
    run_target,
    with_manifest,
)
from target_loyalty.exceptions import RejectedRecordsLimitError, SyncAlreadyRunningError


def config(url: str, **extra: object) -> dict[str, object]:
    return {"database_url": url, "as_of": "2024-06-01T00:00:00Z", **extra}


def mixed_input() -> str:
    """Good records with a bad line between each, then the manifest."""
    good = Messages().records("customers", customer(1), customer(2))
    lines = good.text().splitlines()
    bad = [
        "{not json",
        "just some text",
        "[1, 2, 3]",
        json.dumps({"stream": "customers", "record": customer(3)}),
        json.dumps({"type": "RECORD", "stream": "customers", "record": None}),
        json.dumps({"type": "RECORD", "stream": "orders", "record": order(1, 1, "1.00")}),
        json.dumps({"type": "STATE", "value": "garbage"}),
        '{"type": "RECORD", "stream": "customers", "record": {"id": NaN}}',
        "[" * 100_001 + "]" * 100_001,
        '{"type": "RECORD", "stream": "customers", "record": {"note": "\x00"}}',
    ]
    body = [lines[0], lines[1], *bad, lines[2]]
    tail = Messages()
    tail._schemas.add("customers")
    tail.state({"bookmarks": {"customers": {"replication_key_value": "2024-01-01T12:00:00Z"}}})
    with_manifest(tail, manifest_row("customers", 2))
    return "\n".join(body) + "\n" + tail.text()


def test_bad_lines_are_dead_lettered_and_the_good_ones_written(database_url, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(database_url)))
    result = run_cli(path, mixed_input())
    assert result.returncode == 0, result.stderr[-3000:]
    # Only the STATE the target could parse is passed on to Meltano.
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"bookmarks": {"customers": {"replication_key_value": "2024-01-01T12:00:00Z"}}}
    ]
    assert [r[0] for r in query(database_url, "SELECT customer_id FROM loyalty_accounts")] == [
        1,
        2,
    ]
    letters = query(
        database_url,
        "SELECT line_number, truncated, reason, raw FROM loyalty_dead_letters ORDER BY line_number",
    )
    assert [r[0] for r in letters] == list(range(3, 13))
    assert [bool(r[1]) for r in letters] == [False] * 8 + [True, False]
    assert all(r[2] for r in letters)  # every letter says why
    assert letters[0][3] == "{not json"
    assert letters[9][3].endswith('"note": "\\u0000"}}')  # a NUL byte PostgreSQL can store
    assert query(database_url, "SELECT status FROM loyalty_sync_runs") == [("succeeded",)]


def test_dead_letters_count_toward_max_rejected_records(sqlite_url):
    text = Messages().records("customers", customer(1)).text() + "oops\n" * 3
    with pytest.raises(RejectedRecordsLimitError, match="max_rejected_records=2"):
        run_target(config(sqlite_url, max_rejected_records=2), text)
    assert query(sqlite_url, "SELECT count(*) FROM loyalty_dead_letters")[0][0] == 3
    assert query(sqlite_url, "SELECT status FROM loyalty_sync_runs")[0][0] == "failed"


def test_an_older_customer_version_changes_nothing(database_url):
    newer = customer(1, email="new@example.com", updated_at="2024-05-01T00:00:00Z")
    older = customer(1, email="old@example.com", updated_at="2024-04-01T00:00:00Z")
    run_target(config(database_url), Messages().records("customers", newer))
    run_target(
        config(database_url),
        with_manifest(Messages().records("customers", older), manifest_row("customers", 1)),
    )
    assert query(database_url, "SELECT email FROM loyalty_accounts") == [("new@example.com",)]
    counts = query(
        database_url,
        "SELECT measure, count FROM loyalty_run_counts c JOIN loyalty_sync_runs r "
        "ON r.run_id = c.run_id AND r.status = 'succeeded' WHERE c.stream = 'customers' "
        "AND c.measure LIKE 'skipped:%'",
    )
    assert [tuple(c) for c in counts] == [("skipped:stale_version", 1)]
    # Within one batch too: the newest version wins whatever the order of arrival.
    run_target(config(database_url), Messages().records("customers", older, newer, older))
    assert query(database_url, "SELECT email FROM loyalty_accounts") == [("new@example.com",)]


def _hold_lock(url: str, pid: int, heartbeat: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO loyalty_sync_locks VALUES (:shop, 'holder-run', :pid, :host, "
                ":beat, :beat)"
            ),
            {"shop": SHOP, "pid": pid, "host": socket.gethostname(), "beat": heartbeat},
        )
    engine.dispose()


def test_a_live_holder_keeps_its_sqlite_lock_however_quiet(sqlite_url):
    run_target(config(sqlite_url), Messages().records("customers", customer(1)))
    # A live process on this host, silent for a day, longer than lock_stale_after_seconds.
    _hold_lock(sqlite_url, os.getpid(), "2000-01-01 00:00:00")
    with pytest.raises(SyncAlreadyRunningError, match="holder-run"):
        run_target(
            config(sqlite_url, lock_stale_after_seconds=1),
            Messages().records("customers", customer(2)),
        )
    assert [r[0] for r in query(sqlite_url, "SELECT customer_id FROM loyalty_accounts")] == [1]
    statuses = sorted(r[0] for r in query(sqlite_url, "SELECT status FROM loyalty_sync_runs"))
    assert statuses == ["incomplete", "refused"]


def test_a_dead_holder_is_taken_over(sqlite_url):
    run_target(config(sqlite_url), Messages().records("customers", customer(1)))
    dead = subprocess.Popen(["true"])
    dead.wait()
    _hold_lock(sqlite_url, dead.pid, "2099-01-01 00:00:00")
    run_target(config(sqlite_url), Messages().records("customers", customer(2)))
    assert [r[0] for r in query(sqlite_url, "SELECT customer_id FROM loyalty_accounts")] == [1, 2]
