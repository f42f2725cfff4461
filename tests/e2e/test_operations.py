"""What an operator meets around `meltano run`: configuration errors, kill -9, private files.

Real Meltano in the repository, as the README documents it (under ``umask 077``), against the
emulator. Each test uses its own Meltano system database (so its own state and run records).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    MELTANO,
    PRIVATE_UMASK,
    REPO_ROOT,
    MeltanoProject,
    meltano_env,
    project_lock,
    run_meltano,
)

RUN_DIR = REPO_ROOT / ".meltano" / "run"
CRM_STATE_ID = "dev:tap-shopify-history-to-target-crm"
CLEAR_DATABASE_URL_ERROR = re.compile(
    r"database_url\W.*\b(empty|blank|not set|unset|missing)\b", re.IGNORECASE
)


def _sqlite_files() -> dict[Path, int]:
    """Every SQLite file a target could fall back to, with its modification time."""
    candidates = [*REPO_ROOT.glob("*.db"), *REPO_ROOT.glob("output/**/*.db")]
    return {path: path.stat().st_mtime_ns for path in candidates}


def _files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


@contextlib.contextmanager
def _no_new_sqlite_files() -> Iterator[None]:
    """Fail when a SQLite file appeared or changed; delete new ones so the tree stays clean."""
    before = _sqlite_files()
    try:
        yield
    finally:
        after = _sqlite_files()
        for path in set(after) - set(before):
            path.unlink()
        with contextlib.suppress(OSError):  # the fallback's folder, when it made one
            (REPO_ROOT / "output").rmdir()
    assert after == before, "a SQLite file was written instead of failing"


@pytest.fixture
def prod_project(meltano_installed: Path, shopify_emulator: Any, tmp_path: Path) -> MeltanoProject:
    """The ``prod`` environment pointed at the emulator, its CRM URL set, its loyalty URL not."""
    env = meltano_env(
        {
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "SHOPIFY_SHOP": "demo-store",
            "SHOPIFY_ACCESS_TOKEN": shopify_emulator.token,
            # `store_url` wins over `shop`: the emulator stands in for the real store.
            "TAP_SHOPIFY_HISTORY_STORE_URL": shopify_emulator.base_url,
            "CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
        }
    )
    for name in ("LOYALTY_DATABASE_URL", "TARGET_LOYALTY_DATABASE_URL"):
        env.pop(name, None)
    return MeltanoProject(env=env)


@pytest.mark.e2e
def test_prod_without_a_database_url_fails_naming_the_variable(
    prod_project: MeltanoProject,
) -> None:
    with _no_new_sqlite_files():
        result = prod_project.attempt(
            "run", "tap-shopify-history", "target-loyalty", environment="prod"
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Environment variable 'LOYALTY_DATABASE_URL' referenced but not set" in output


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("target", "variable"),
    [("target-loyalty", "LOYALTY_DATABASE_URL"), ("target-crm", "CRM_DATABASE_URL")],
    ids=["loyalty", "crm"],
)
def test_prod_with_an_empty_database_url_fails_in_the_target(
    prod_project: MeltanoProject, target: str, variable: str
) -> None:
    # Meltano drops a setting whose value expands to nothing; the prod environment's `env:`
    # hands the empty value to the target, which must refuse it rather than use its default.
    prod_project.env["LOYALTY_DATABASE_URL"] = "sqlite:////nonexistent/never-used.db"
    prod_project.env[variable] = ""
    with _no_new_sqlite_files():
        result = prod_project.attempt("run", "tap-shopify-history", target, environment="prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    # A message, not a traceback that happens to show the line reading `database_url`.
    assert CLEAR_DATABASE_URL_ERROR.search(output), output[-4000:]


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def _removed_afterwards(files: set[Path]) -> Iterator[None]:
    """Delete the per-run files a killed run left in the repository's `.meltano/run/`."""
    try:
        yield
    finally:
        for path in files:
            if path.is_file():
                path.unlink()


def _private(path: Path) -> bool:
    return path.stat().st_mode & 0o077 == 0


@pytest.mark.e2e
def test_kill_9_leaves_private_files_and_blocks_the_next_run_until_forced(
    meltano_installed: Path, shopify_emulator: Any, tmp_path: Path
) -> None:
    env = meltano_env(
        {
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "SHOPIFY_STORE_URL": shopify_emulator.base_url,
            "SHOPIFY_ACCESS_TOKEN": shopify_emulator.token,
            "TARGET_CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
        }
    )
    pipeline = ("run", "tap-shopify-history", "target-crm")
    with project_lock():
        existing = _files_under(RUN_DIR)
        process = subprocess.Popen(
            [str(MELTANO), "--environment=dev", *pipeline],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )

        def target_configured() -> bool:
            return any((RUN_DIR / "target-crm").glob("target.*.config.json"))

        try:
            _wait_for(target_configured, 120, "Meltano to write the target's config file")
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        left = _files_under(RUN_DIR) - existing
        with _removed_afterwards(left):
            configs = sorted(p for p in left if p.name.endswith(".config.json"))
            assert [p.name.split(".")[0] for p in configs] == ["tap", "target"]
            assert any(shopify_emulator.token in p.read_text() for p in configs)
            assert [p for p in left if not _private(p)] == []

            # Meltano's stale-run check: the killed run is still `RUNNING` in the system
            # database until five minutes after its last heartbeat.
            refused = run_meltano(pipeline, env)
            assert refused.returncode != 0
            assert f"Another '{CRM_STATE_ID}' pipeline is already running" in refused.stderr
            assert "'--force' option" in refused.stderr

            forced = run_meltano(("run", "--force", *pipeline[1:]), env)
            assert forced.returncode == 0, forced.stderr[-6000:]
            written = _files_under(RUN_DIR) - existing - left
            assert [p for p in written if not _private(p)] == []
        state = run_meltano(("state", "get", CRM_STATE_ID), env)
    bookmarks = json.loads(state.stdout.strip().splitlines()[-1])["singer_state"]["bookmarks"]
    orders = shopify_emulator.control.snapshot()["orders"]
    newest = max(o["updated_at"] for o in orders if not o["test"])
    assert bookmarks["orders"]["replication_key_value"] >= newest
