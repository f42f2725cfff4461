"""The customer roster is read by the daily job, not every hour (issue 14).

The hourly jobs run `tap-shopify-history-hourly`, which inherits the tap and deselects
`customer_roster`; the daily `roster-reconciliation` job reads the roster; the plain plugin
(`meltano run tap-shopify-history target-loyalty`, the README's command) stays a complete
sync. A run without the roster says so in its log, and both targets record it as
succeeded: they reconcile the manifest parts of the streams that came, per stream.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from shopify_emulator import EmulatorServer, generate_store

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROSTER = "customer_roster"
HOURLY_JOBS = ("loyalty-sync", "crm-sync")
STREAMS = ("customers", "orders", ROSTER, "sync_manifest", "privacy_requests")


def _project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())  # type: ignore[no-any-return]


def _extractors(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in project["plugins"]["extractors"]}


def _job_extractors(project: dict[str, Any], job: str) -> set[str]:
    extractors = _extractors(project)
    [found] = [j for j in project["jobs"] if j["name"] == job]
    return {word for task in found["tasks"] for word in task.split() if word in extractors}


def selected_streams(patterns: list[str] | None) -> set[str]:
    """The streams Meltano selects with these `select` patterns (`!` excludes; none: all)."""
    if not patterns:
        return set(STREAMS)
    chosen = set()
    for stream in STREAMS:
        entry = f"{stream}.id"
        included = any(fnmatch.fnmatchcase(entry, p) for p in patterns if not p.startswith("!"))
        excluded = any(fnmatch.fnmatchcase(entry, p[1:]) for p in patterns if p.startswith("!"))
        if included and not excluded:
            chosen.add(stream)
    return chosen


def test_the_pattern_reader_excludes_and_includes() -> None:
    assert selected_streams(None) == set(STREAMS)
    assert selected_streams(["*.*", "!customer_roster.*"]) == set(STREAMS) - {ROSTER}
    assert selected_streams(["customer_roster.*", "sync_manifest.*"]) == {ROSTER, "sync_manifest"}


def test_hourly_jobs_leave_the_roster_to_the_daily_job() -> None:
    project = _project()
    extractors = _extractors(project)
    for job in HOURLY_JOBS:
        for name in _job_extractors(project, job):
            plugin = extractors[name]
            assert plugin.get("inherit_from") == "tap-shopify-history", (job, name)
            chosen = selected_streams(plugin.get("select"))
            assert ROSTER not in chosen, f"{job} re-reads the roster every hour ({name})"
            assert {"customers", "orders", "sync_manifest", "privacy_requests"} <= chosen
    daily = _job_extractors(project, "roster-reconciliation")
    assert daily
    assert all(ROSTER in selected_streams(extractors[n].get("select")) for n in daily)
    schedules = {s["job"]: s["interval"] for s in project["schedules"] if "job" in s}
    assert "roster-reconciliation" in schedules
    assert all(job in schedules for job in HOURLY_JOBS)
    # The README's command stays a complete sync, the roster included.
    assert "select" not in extractors["tap-shopify-history"]
    text = (ROOT / "meltano.yml").read_text()
    assert "roster is left to the daily" in text or "does NOT check deletions" in text


@pytest.fixture
def emulator():
    store = generate_store(seed=21, customers=12, orders=30)
    with EmulatorServer(store, plan="plus", bulk_seconds=0.05) as server:
        yield server


def _run(command: list[str], stdin: bytes | None, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, input=stdin, capture_output=True, cwd=cwd, timeout=300, check=False
    )


def _status(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(sa.text(f"SELECT status FROM {table}"))]
    finally:
        engine.dispose()


def test_a_run_without_the_roster_says_so_and_both_targets_succeed(emulator, tmp_path) -> None:
    hourly = _extractors(_project())["tap-shopify-history-hourly"]
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"store_url": emulator.base_url, "access_token": emulator.token}))
    discovered = _run(
        [str(BIN / "tap-shopify-history"), "--config", str(config), "--discover"], None, tmp_path
    )
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    catalog = json.loads(discovered.stdout)
    chosen = selected_streams(hourly["select"])
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in chosen
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    tap = _run(
        [str(BIN / "tap-shopify-history"), "--config", str(config), "--catalog", str(catalog_path)],
        None,
        tmp_path,
    )
    assert tap.returncode == 0, tap.stderr[-3000:]
    messages = [json.loads(line) for line in tap.stdout.splitlines() if line.strip()]
    streams = {m.get("stream") for m in messages if m["type"] == "RECORD"}
    assert ROSTER not in streams
    assert {"customers", "orders", "sync_manifest"} <= streams
    assert b"the roster is left to the daily job" in tap.stderr
    targets = {
        "target-loyalty": (
            {
                "tiers": [{"name": "Member", "entry_threshold": "0", "cashback_percent": "1"}],
            },
            "loyalty_sync_runs",
        ),
        "target-crm": ({}, "sync_runs"),
    }
    for executable, (extra, table) in targets.items():
        url = f"sqlite:///{tmp_path / executable}.db"
        target_config = tmp_path / f"{executable}.json"
        target_config.write_text(json.dumps({"database_url": url, **extra}))
        done = _run([str(BIN / executable), "--config", str(target_config)], tap.stdout, tmp_path)
        assert done.returncode == 0, (executable, done.stderr[-3000:])
        assert _status(url, table) == ["succeeded"], executable
