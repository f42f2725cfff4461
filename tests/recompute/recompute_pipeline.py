"""The real CLIs as subprocesses: the tap into a Singer file, that file into each target.

One tap run feeds both targets (the same bytes, as `tee` would), so the loyalty books and the
CRM store are compared against one Shopify read. The tap's own last STATE is the bookmark the
next phase starts from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
TIMEOUT = 240
SIGNUP_BONUS = 100
CASHBACK_PERCENT = "1"
# Phase C deletes one customer and merges another away out of 30-80: above the default 5%.
ROSTER_SHARE = 0.25


@dataclass
class TapRun:
    """One tap run: its Singer output file, its last STATE and when it ran (wall clock)."""

    output: Path
    state: dict[str, Any] | None
    started: datetime
    finished: datetime
    manifest: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TargetRun:
    """One target run: exit code and the tail of its stderr."""

    name: str
    returncode: int
    stderr: str


def run_tap(
    workdir: Path, server: Any, name: str, state: dict[str, Any] | None, **settings: Any
) -> TapRun:
    """Run ``tap-shopify-history`` against the emulator; its stdout goes to ``<name>.singer``.

    Raises:
        AssertionError: when the tap exits non-zero (its stderr tail is in the message).
    """
    config = {"store_url": server.base_url, "access_token": server.token, **settings}
    config_path = workdir / f"{name}.tap.json"
    config_path.write_text(json.dumps(config))
    cmd = [str(BIN / "tap-shopify-history"), "--config", str(config_path)]
    if state is not None:
        state_path = workdir / f"{name}.state.json"
        state_path.write_text(json.dumps(state))
        cmd += ["--state", str(state_path)]
    output = workdir / f"{name}.singer"
    started = datetime.now(UTC)
    with output.open("wb") as out:
        tap = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
    finished = datetime.now(UTC)
    err = tap.stderr.decode(errors="replace")
    assert tap.returncode == 0, f"tap run {name} failed:\n{err[-3000:]}"
    last_state, manifest = state, []
    for line in output.read_text().splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("type") == "STATE":
            last_state = message["value"]
        elif message.get("type") == "RECORD" and message.get("stream") == "sync_manifest":
            manifest.append(message["record"])
    return TapRun(output, last_state, started, finished, manifest)


def loyalty_config(database_url: str, as_of: str) -> dict[str, Any]:
    """target-loyalty settings of this test: a signup bonus, one cashback tier, as_of fixed."""
    return {
        "database_url": database_url,
        "signup_bonus_points": SIGNUP_BONUS,
        "signup_bonus_existing_customers": True,
        "tiers": [
            {
                "name": "Member",
                "entry_threshold": "0",
                "retain_threshold": "0",
                "cashback_percent": CASHBACK_PERCENT,
            }
        ],
        "as_of": as_of,
        "max_roster_deletion_share": ROSTER_SHARE,
    }


def crm_config(database_url: str) -> dict[str, Any]:
    """target-crm settings of this test: the defaults (identifier email, duplicates flagged)."""
    return {"database_url": database_url, "max_roster_deletion_share": ROSTER_SHARE}


def run_targets(
    workdir: Path, singer_file: Path, configs: dict[str, dict[str, Any]], name: str
) -> list[TargetRun]:
    """Feed ``singer_file`` to each target (``{"target-loyalty": config, ...}``) in parallel."""
    running = []
    for exe, config in configs.items():
        config_path = workdir / f"{name}.{exe}.json"
        config_path.write_text(json.dumps(config))
        stdin = singer_file.open("rb")
        proc = subprocess.Popen(
            [str(BIN / exe), "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        running.append((exe, proc, stdin))
    runs = []
    for exe, proc, stdin in running:
        try:
            _out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            stdin.close()
        runs.append(TargetRun(exe, proc.returncode, err.decode(errors="replace")[-2000:]))
    return runs
