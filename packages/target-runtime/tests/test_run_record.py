"""A run's row in sync_runs beside its shop lock: running, heartbeat, end, refused, abandoned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from target_runtime.run_record import ERROR_CHARS, RunRecord
from target_runtime.shop_lock import LockHolder, ShopLock, ShopLockedError

SHOP = "a.myshopify.com"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
LEASE = timedelta(seconds=60)
DEAD_PID = 2**22 + 12_345  # above Linux's default pid_max: never a live process

metadata = sa.MetaData()
locks = sa.Table(
    "rr_sync_locks",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)
per_shop_runs = sa.Table(
    "rr_sync_runs_per_shop",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.Column("applied", sa.Integer, nullable=False, server_default="0"),
)
one_row_runs = sa.Table(
    "rr_sync_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(database_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def lock(run_id: str, pid: int | None = None) -> ShopLock:
    return ShopLock(locks, run_id, LEASE, advisory_namespace="rr-test", pid=pid, host="this-host")


def rows(engine: Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.run_id))]


def test_a_per_shop_run_is_running_counts_its_batches_and_closes_with_its_lock(
    engine: Engine,
) -> None:
    record = RunRecord(per_shop_runs, lock("run-1"), per_shop=True)
    record.lock.acquire(engine, SHOP, NOW, then=lambda conn, _: record.open(conn, NOW, SHOP))
    (row,) = rows(engine, per_shop_runs)
    assert (row["status"], row["shop_domain"], row["host"]) == ("running", SHOP, "this-host")
    with engine.begin() as conn:
        record.heartbeat(conn, LATER, SHOP, applied=3)
        record.heartbeat(conn, LATER, SHOP, applied=4)
    (row,) = rows(engine, per_shop_runs)
    assert row["applied"] == 7
    assert row["heartbeat_at"].astimezone(UTC) == LATER
    with engine.begin() as conn:
        record.close(conn, "succeeded", LATER, SHOP)
    (row,) = rows(engine, per_shop_runs)
    assert (row["status"], row["finished_at"].astimezone(UTC)) == ("succeeded", LATER)
    assert rows(engine, locks) == []


def test_one_row_per_run_closes_every_lock(engine: Engine) -> None:
    record = RunRecord(one_row_runs, lock("run-2"), per_shop=False)
    with engine.begin() as conn:
        record.open(conn, NOW)
    record.lock.acquire(engine, SHOP, NOW)
    record.lock.acquire(engine, "b.myshopify.com", NOW)
    with engine.begin() as conn:
        record.heartbeat(conn, LATER)
        record.close(conn, "failed", LATER, error="boom")
    (row,) = rows(engine, one_row_runs)
    assert (row["status"], row["error"]) == ("failed", "boom")
    assert rows(engine, locks) == []


def test_a_refused_run_is_recorded_refused_with_a_bounded_reason(engine: Engine) -> None:
    record = RunRecord(per_shop_runs, lock("run-3"), per_shop=True)
    record.refused(engine, NOW, "x" * (ERROR_CHARS + 50), SHOP)
    (row,) = rows(engine, per_shop_runs)
    assert row["status"] == "refused"
    assert row["finished_at"] is not None
    assert len(row["error"]) == ERROR_CHARS


def test_a_run_whose_lock_is_taken_over_is_marked_abandoned_and_a_live_one_is_not(
    engine: Engine,
) -> None:
    dead = RunRecord(per_shop_runs, lock("run-dead", pid=DEAD_PID), per_shop=True)
    with engine.begin() as conn:
        dead.open(conn, NOW, SHOP)
    with engine.begin() as conn:  # the dead run's lock row, as a kill -9 leaves it
        conn.execute(
            sa.insert(locks).values(
                shop_domain=SHOP,
                run_id="run-dead",
                pid=DEAD_PID,
                host="this-host",
                started_at=NOW,
                heartbeat_at=NOW,
            )
        )
    taker = RunRecord(per_shop_runs, lock("run-next"), per_shop=True)
    replaced: list[LockHolder | None] = []

    def take_over(conn: sa.Connection, holder: LockHolder | None) -> None:
        replaced.append(holder)
        taker.abandoning("the run died without finishing")(conn, holder)
        taker.open(conn, LATER, SHOP)

    if engine.dialect.name == "postgresql":
        dead.lock.close_sessions()
    taker.lock.acquire(engine, SHOP, LATER, then=take_over)
    assert replaced[0] is not None
    assert replaced[0].run_id == "run-dead"
    statuses = {r["run_id"]: (r["status"], r["error"]) for r in rows(engine, per_shop_runs)}
    assert statuses == {
        "run-dead": ("abandoned", "the run died without finishing"),
        "run-next": ("running", None),
    }
    with pytest.raises(ShopLockedError):  # the taker is alive on this host: kept however quiet
        lock("run-third").acquire(engine, SHOP, LATER + timedelta(days=1))
    taker.lock.close_sessions()
