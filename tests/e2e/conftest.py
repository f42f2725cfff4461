"""Fixtures for real `meltano run` pipelines: the project installed once, per-test state."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from testkit.databases import create_postgres_database, drop_postgres_database

REPO_ROOT = Path(__file__).resolve().parents[2]
MELTANO = Path(sys.executable).parent / "meltano"
# As the README's commands and the demo run meltano: its per-run config files hold secrets.
PRIVATE_UMASK = 0o077


def meltano_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its MELTANO_* settings, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MELTANO_")}
    env.update({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"})
    env.update(extra)
    return env


@contextlib.contextmanager
def project_lock() -> Iterator[None]:
    """One meltano command at a time in the project: they share `.meltano/run/`."""
    lock_path = REPO_ROOT / ".meltano" / "e2e.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def meltano_installed() -> Path:
    """`meltano install` in the repository: the plugins get their own venvs, as for users."""
    with project_lock():
        result = subprocess.run(
            [str(MELTANO), "install"],
            cwd=REPO_ROOT,
            env=meltano_env({}),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            umask=PRIVATE_UMASK,
        )
    assert result.returncode == 0, result.stderr[-5000:]
    return REPO_ROOT


def run_meltano(
    arguments: tuple[str, ...],
    env: dict[str, str],
    *,
    environment: str = "dev",
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``meltano --environment=<environment> <arguments>`` in the repository, as documented.

    The caller holds :func:`project_lock`.
    """
    return subprocess.run(
        [str(MELTANO), f"--environment={environment}", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        umask=PRIVATE_UMASK,
    )


@dataclass
class MeltanoProject:
    """Runs meltano commands with this test's emulator, databases and state store."""

    env: dict[str, str]
    logs: list[str] = field(default_factory=list)

    def attempt(
        self, *arguments: str, environment: str = "dev", timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run ``meltano <arguments>`` and return how it ended, whatever that was."""
        with project_lock():
            result = run_meltano(arguments, self.env, environment=environment, timeout=timeout)
        self.logs.append(result.stderr)
        return result

    def __call__(self, *arguments: str, timeout: float = 600) -> str:
        """Run ``meltano <arguments>`` in the dev environment; fail the test on error."""
        result = self.attempt(*arguments, timeout=timeout)
        assert result.returncode == 0, f"meltano {' '.join(arguments)}:\n{result.stderr[-6000:]}"
        return result.stdout

    def state(self, state_id: str) -> dict[str, Any]:
        """Meltano's stored state for a pipeline."""
        import json  # noqa: PLC0415

        output = self("state", "get", state_id)
        return dict(json.loads(output.strip().splitlines()[-1]))


@pytest.fixture
def destination_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """One database per target on the backend named by the test's ``backend`` parameter."""
    backend = request.param
    if backend == "sqlite":
        yield {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("loyalty", "crm")}
        return
    admin_url = str(request.getfixturevalue("postgres_admin_url"))
    names = {name: create_postgres_database(admin_url) for name in ("loyalty", "crm")}
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield {name: f"{base}/{database}" for name, database in names.items()}
    finally:
        for database in names.values():
            drop_postgres_database(admin_url, database)


@pytest.fixture
def meltano_project(
    meltano_installed: Path, destination_urls: dict[str, str], tmp_path: Path
) -> MeltanoProject:
    """A Meltano project whose system database (and so its state) belongs to this test."""
    return MeltanoProject(
        env=meltano_env(
            {
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
                "TARGET_LOYALTY_DATABASE_URL": destination_urls["loyalty"],
                "TARGET_CRM_DATABASE_URL": destination_urls["crm"],
            }
        )
    )


def table_rows(
    database_url: str, table: str, exclude: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """Every row of a table, without the named columns, in a stable order."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
            columns = [c for c in reflected.columns if c.name not in exclude]
            rows = connection.execute(sa.select(*columns)).all()
    finally:
        engine.dispose()
    return sorted((tuple(row) for row in rows), key=repr)
