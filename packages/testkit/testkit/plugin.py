"""pytest plugin: database URLs (SQLite and PostgreSQL) and a running Shopify emulator.

Registered through the ``pytest11`` entry point, so any package in the workspace gets the
fixtures without importing this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from testkit.databases import create_postgres_database, drop_postgres_database

# MoEngage / Ometria stand-in fixtures: moengage_standin, ometria_standin, standin_factory.
pytest_plugins = ["testkit.standins"]

POSTGRES_ADMIN_URL = os.environ.get(
    "TESTKIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES") == "1"


def _postgres_unreachable_reason() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "unreachable" here
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL.split('@')[-1]}: {error}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL maintenance database; skips (or fails under CI) when down."""
    reason = _postgres_unreachable_reason()
    if reason is not None:
        if _postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = create_postgres_database(postgres_admin_url)
    try:
        yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        drop_postgres_database(postgres_admin_url, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL, each in its own fresh database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


# --- Shopify emulator ------------------------------------------------------------------


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Any]]:
    """Start emulators on demand; every one started is stopped at teardown.

    Call it with ``store=`` (a Store; default: a small generated store) and any
    ``EmulatorServer`` option (``plan``, ``index_lag_seconds``, ``bulk_seconds``,
    ``api_versions``, ``faults``). Returns the started ``EmulatorServer``.
    """
    from shopify_emulator import EmulatorServer, generate_store  # noqa: PLC0415

    started: list[EmulatorServer] = []

    def start(store: Any = None, **options: Any) -> EmulatorServer:
        if store is None:
            store = generate_store(seed=7, customers=40, orders=200)
        options.setdefault("bulk_seconds", 0.5)
        server = EmulatorServer(store, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def shopify_emulator(emulator_factory: Callable[..., Any]) -> Any:
    """A running emulator on a small generated store (seed 7, 40 customers, 200 orders).

    Use ``.base_url`` (the tap's ``store_url``), ``.token``, ``.shop_domain`` and
    ``.control`` (change the store while a sync runs).
    """
    return emulator_factory()
