"""The example target (examples/target_example.py) end to end: run as a script, as Meltano would.

It is the target CONTRIBUTING.md shows as "a new target in under 100 lines": these tests keep
the claim true (its line count, and that it upserts, quarantines, locks and prints STATE after
commit on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from testkit.singer_messages import (
    SingerStore,
    record_message,
    schema_message,
    state_message,
    to_lines,
)

EXAMPLE = Path(__file__).parents[1] / "examples" / "target_example.py"
CONTRIBUTING = Path(__file__).parents[3] / "CONTRIBUTING.md"
SHOP = "example-store.myshopify.com"


def plumbing_lines(source: str) -> int:
    """Imports plus the code between the plumbing markers; not blank lines nor comments."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# -- plumbing starts"))
    end = next(i for i, line in enumerate(lines) if line.startswith("# -- plumbing ends"))
    imports = [line for line in lines[:start] if line.startswith(("import ", "from "))]
    body = [line for line in lines[start:end] if line.strip() and not line.lstrip().startswith("#")]
    return len(imports) + len(body)


def config_file(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"database_url": database_url}))
    return path


def command(config: Path) -> list[str]:
    return [sys.executable, str(EXAMPLE), "--config", str(config)]


def run(config: Path, lines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(config), input=lines, capture_output=True, text=True, timeout=120, check=False
    )


def states(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def contacts(database_url: str) -> dict[int, tuple[str | None, str]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, email, name FROM example_contacts")).all()
    finally:
        engine.dispose()
    return {row.id: (row.email, row.name) for row in rows}


def table(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql)).all()]
    finally:
        engine.dispose()


def stdout_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines as they come ("" at its end), read by a thread."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_state(lines: queue.Queue[str]) -> dict[str, Any]:
    # A guard against a hang, not a speed check: a STATE that never comes fails the test.
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        line = ""
    assert line, "no STATE printed while the run was still reading its input"
    return dict(json.loads(line))


def test_the_plumbing_is_under_100_lines_as_contributing_says() -> None:
    count = plumbing_lines(EXAMPLE.read_text())
    assert count < 100
    assert f"**{count} lines of plumbing**" in CONTRIBUTING.read_text()


def test_replay_changes_nothing_bad_input_is_quarantined_and_newer_wins(
    database_url: str, tmp_path: Path
) -> None:
    store = SingerStore(shop_domain=SHOP)
    store.customer(1)
    store.customer(2, email="  Mixed@Example.COM ")
    store.customer(3, id=-3)  # not a positive id: quarantined, the run goes on
    store.customer(4, updated_at="not a time")
    messages = store.messages()
    lines = to_lines(messages[:2]) + "not json\n" + to_lines(messages[2:])
    config = config_file(tmp_path, database_url)

    first = run(config, lines)
    assert first.returncode == 0, first.stderr
    after_first = contacts(database_url)
    assert after_first == {
        1: ("customer1@example.com", "First1 Last1"),
        2: ("mixed@example.com", "First2 Last2"),
    }
    assert sorted(table(database_url, "SELECT stream, field FROM example_quarantine")) == [
        ("customers", "id"),
        ("customers", "updated_at"),
        ("input", "line"),
    ]
    assert states(first.stdout) == [m["value"] for m in messages if m["type"] == "STATE"]

    replay = run(config, lines)
    assert replay.returncode == 0, replay.stderr
    assert contacts(database_url) == after_first
    assert table(database_url, "SELECT shop_domain FROM example_sync_locks") == []

    older = dict(store.customers[1], email="older@example.com", updated_at="2020-01-01T00:00:00Z")
    newer = dict(store.customers[2], email="newer@example.com", updated_at="2030-01-01T00:00:00Z")
    update = [schema_message("customers"), record_message("customers", older)]
    update.append(record_message("customers", newer))
    assert run(config, to_lines(update)).returncode == 0
    assert contacts(database_url) == {
        1: ("customer1@example.com", "First1 Last1"),
        2: ("newer@example.com", "First2 Last2"),
    }


def test_state_follows_its_commit_and_a_second_run_for_the_shop_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    store = SingerStore(shop_domain=SHOP)
    first, second = store.customer(1), store.customer(2)
    config = config_file(tmp_path, database_url)
    running = subprocess.Popen(
        command(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert running.stdin is not None
    printed = stdout_lines(running)
    try:
        bookmark = state_message({"bookmarks": {"customers": {"at": 1}}})
        running.stdin.write(to_lines([schema_message("customers")]))
        running.stdin.write(to_lines([record_message("customers", first), bookmark]))
        running.stdin.flush()
        # The run is still reading input: its STATE is printed once customer 1 is committed.
        assert next_state(printed) == bookmark["value"]
        assert set(contacts(database_url)) == {1}

        changed = dict(first, email="intruder@example.com")
        lines = to_lines([schema_message("customers"), record_message("customers", changed)])
        refused = run(config, lines)
        assert refused.returncode != 0
        assert f"another sync is running for shop {SHOP}" in refused.stderr
        assert f"pid {running.pid}" in refused.stderr
        assert contacts(database_url)[1][0] == "customer1@example.com"

        later = state_message({"bookmarks": {"customers": {"at": 2}}})
        running.stdin.write(to_lines([record_message("customers", second), later]))
        running.stdin.flush()
        assert next_state(printed) == later["value"]
        assert set(contacts(database_url)) == {1, 2}
        running.stdin.close()
        assert running.wait(timeout=120) == 0
        assert printed.get(timeout=120) == ""  # nothing printed twice at the end of input
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()

    # The run released the shop at its end: the next one is not refused.
    assert run(config, lines).returncode == 0
    assert contacts(database_url)[1][0] == "intruder@example.com"
