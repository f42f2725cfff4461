"""The one shop lock: compare-and-swap row, same-host pid rule, PostgreSQL advisory lock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from target_runtime.shop_lock import (
    LockHolder,
    ShopLock,
    ShopLockedError,
    lease_from_config,
)

SHOP = "a.myshopify.com"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)

metadata = sa.MetaData()
# A target's own table, with CRM's column name for the host.
locks = sa.Table(
    "example_sync_locks",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(sqlite_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def live_pid() -> Iterator[int]:
    """A process of this host that stays alive for the module's tests."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """A pid that was a process of this host and has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def lock(run_id: str, *, pid: int = 1_000_001, host: str = "here", lease: timedelta = LEASE):
    return ShopLock(
        locks,
        run_id,
        lease,
        advisory_namespace="example",
        host_column="hostname",
        pid=pid,
        host=host,
    )


def rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(locks.c.shop_domain, locks.c.run_id))]


def plant(engine: Engine, run_id: str, *, pid: int, host: str, heartbeat: datetime) -> None:
    """A lock row left by another run (without its PostgreSQL session)."""
    with engine.begin() as conn:
        conn.execute(
            locks.insert().values(
                shop_domain=SHOP,
                run_id=run_id,
                pid=pid,
                hostname=host,
                started_at=NOW,
                heartbeat_at=heartbeat,
            )
        )


def test_a_free_shop_is_taken_once_and_given_back(engine: Engine) -> None:
    mine = lock("mine")
    seen: list[LockHolder | None] = []
    mine.acquire(engine, SHOP, NOW, then=lambda conn, replaced: seen.append(replaced))
    mine.acquire(engine, SHOP, NOW, then=lambda conn, replaced: seen.append(replaced))
    assert seen == [None]  # the second call holds already: no transaction, no callback
    assert rows(engine) == [(SHOP, "mine")]
    with engine.begin() as conn:
        mine.heartbeat(conn, NOW + timedelta(seconds=5))
        assert mine.holder(conn, SHOP).heartbeat_at == NOW + timedelta(seconds=5)  # type: ignore[union-attr]
        mine.release(conn)
    mine.close_sessions()
    assert rows(engine) == []
    assert mine.held == set()


def test_a_live_holder_on_this_host_keeps_the_shop_however_quiet(
    engine: Engine, live_pid: int
) -> None:
    """Lease 0 and a heartbeat a day old: its pid is alive here, so it is not taken over."""
    holder = lock("holder", pid=live_pid)
    holder.acquire(engine, SHOP, NOW - timedelta(days=1))
    other = lock("other", lease=timedelta(0))
    with pytest.raises(ShopLockedError) as busy:
        other.acquire(engine, SHOP, NOW)
    assert busy.value.holder is not None
    assert busy.value.holder.run_id == "holder"
    assert f"run holder (pid {live_pid} on here) started at 2025-12-31T00:00" in str(busy.value)
    assert rows(engine) == [(SHOP, "holder")]
    assert other.held == set()
    holder.close_sessions()


def test_a_dead_holder_on_this_host_is_replaced_by_compare_and_swap(
    sqlite_engine: Engine, dead_pid: int
) -> None:
    """SQLite: a pid gone from this host is a run killed with -9, whatever its heartbeat."""
    plant(sqlite_engine, "killed", pid=dead_pid, host="here", heartbeat=NOW)
    seen: list[LockHolder | None] = []
    lock("next").acquire(sqlite_engine, SHOP, NOW, then=lambda c, r: seen.append(r))
    assert [h.run_id if h else None for h in seen] == ["killed"]
    assert rows(sqlite_engine) == [(SHOP, "next")]


def test_a_holder_with_our_own_pid_is_alive(sqlite_engine: Engine, live_pid: int) -> None:
    """Another run in this very process holds the shop: never two writers at once."""
    plant(sqlite_engine, "sibling", pid=live_pid, host="here", heartbeat=NOW)
    with pytest.raises(ShopLockedError, match="run sibling"):
        lock("later", pid=live_pid).acquire(sqlite_engine, SHOP, NOW)
    assert rows(sqlite_engine) == [(SHOP, "sibling")]


def test_a_holder_on_another_host_is_judged_by_its_heartbeat(sqlite_engine: Engine) -> None:
    plant(sqlite_engine, "remote", pid=1, host="elsewhere", heartbeat=NOW)
    with pytest.raises(ShopLockedError, match=r"run remote \(pid 1 on elsewhere\)"):
        lock("early").acquire(sqlite_engine, SHOP, NOW + LEASE)
    lock("late").acquire(sqlite_engine, SHOP, NOW + LEASE + timedelta(seconds=1))
    assert rows(sqlite_engine) == [(SHOP, "late")]


def test_of_two_runs_taking_over_the_same_holder_one_is_refused(
    sqlite_engine: Engine, dead_pid: int
) -> None:
    """The swap names the holder it read: once another run replaced it, ours matches none."""
    plant(sqlite_engine, "killed", pid=dead_pid, host="here", heartbeat=NOW)
    first = lock("first")
    stale_read = LockHolder(SHOP, "killed", dead_pid, "here", NOW, NOW)
    first.acquire(sqlite_engine, SHOP, NOW)
    second = lock("second")
    second.holder = lambda conn, shop: stale_read  # type: ignore[method-assign]
    with pytest.raises(ShopLockedError, match=r"took the lock for shop a\.myshopify\.com at the"):
        second.acquire(sqlite_engine, SHOP, NOW)
    assert rows(sqlite_engine) == [(SHOP, "first")]


def test_postgresql_a_live_session_keeps_the_shop_and_a_closed_one_frees_it(
    postgres_url: str,
) -> None:
    """PostgreSQL: the advisory lock decides, on any host, whatever the row's heartbeat."""
    engine = sa.create_engine(postgres_url)
    metadata.create_all(engine)
    try:
        holder = lock("holder", host="elsewhere")
        holder.acquire(engine, SHOP, NOW - timedelta(days=1))
        with pytest.raises(ShopLockedError, match=r"run holder \(pid 1000001 on elsewhere\)"):
            lock("other", lease=timedelta(0)).acquire(engine, SHOP, NOW)
        # The holder's connection goes (as when its process is killed), its row stays,
        # with a fresh heartbeat from another host that the lease alone would respect.
        with engine.begin() as conn:
            holder.heartbeat(conn, NOW)
        holder.close_sessions()
        seen: list[LockHolder | None] = []
        taker = lock("taker")
        taker.acquire(engine, SHOP, NOW, then=lambda c, r: seen.append(r))
        assert [h.run_id if h else None for h in seen] == ["holder"]
        assert rows(engine) == [(SHOP, "taker")]
        taker.close_sessions()
    finally:
        engine.dispose()


def test_the_lease_setting_and_its_deprecated_name() -> None:
    notes: list[str] = []
    old = ("lock_stale_after_seconds",)
    assert lease_from_config({}, 600) == timedelta(seconds=600)
    assert lease_from_config({"lock_lease_seconds": 30}, 600, old, notes.append) == timedelta(
        seconds=30
    )
    both = {"lock_lease_seconds": 30, "lock_stale_after_seconds": 90}
    assert lease_from_config(both, 600, old, notes.append) == timedelta(seconds=30)
    assert notes == []
    only_old = {"lock_stale_after_seconds": 90}
    assert lease_from_config(only_old, 600, old, notes.append) == timedelta(seconds=90)
    assert notes == ["setting lock_stale_after_seconds is deprecated: use lock_lease_seconds"]
    for bad in (-1, "10", True):
        with pytest.raises(ValueError, match="lock_stale_after_seconds"):
            lease_from_config({"lock_stale_after_seconds": bad}, 600, old)
