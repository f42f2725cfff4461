"""One sync at a time per shop and database, and the per-run statistics row.

The ``loyalty_sync_locks`` primary key admits one holder per shop. A holder killed with
-9 cannot release it, so a later run takes the lock over when the holder is provably
gone: on PostgreSQL its session advisory lock was released with its connection; on
SQLite its pid is dead on this host, or its heartbeat is older than ``stale_after``.
"""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from target_loyalty import schema as s
from target_loyalty.exceptions import SyncAlreadyRunningError
from target_loyalty.storage import upsert

HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def advisory_key(shop: str) -> int:
    """A stable signed 64-bit key for the shop's PostgreSQL advisory lock."""
    digest = hashlib.sha256(f"target-loyalty:{shop}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RunRegistry:
    """Acquires shop locks for one target run and keeps its ``sync_runs`` rows."""

    def __init__(self, engine: Engine, run_id: str, stale_after: timedelta) -> None:
        """Prepare; nothing is locked until a shop is first seen.

        Args:
            engine: The database.
            run_id: This target run's id.
            stale_after: Heartbeat age after which an SQLite holder counts as dead.
        """
        self.engine = engine
        self.run_id = run_id
        self.stale_after = stale_after
        self.shops: dict[str, datetime] = {}
        self._sessions: dict[str, Connection] = {}
        self.refused: set[str] = set()

    def acquire(self, shop: str, now: datetime) -> None:
        """Take the shop's lock and open this run's statistics row.

        Raises:
            SyncAlreadyRunningError: Another live sync holds the shop.
        """
        if shop in self.shops:
            return
        try:
            if self.engine.dialect.name == "postgresql":
                self._advisory_lock(shop)
            try:
                self._register(shop, now)
            except sa.exc.IntegrityError:
                # Another run inserted its lock row between our read and our insert.
                with self.engine.connect() as conn:
                    holder = conn.execute(
                        sa.select(s.sync_locks).where(s.sync_locks.c.shop_domain == shop)
                    ).first()
                raise SyncAlreadyRunningError(_busy_message(shop, holder)) from None
        except SyncAlreadyRunningError as error:
            self._record_refused(shop, now, str(error))
            raise
        self.shops[shop] = now

    def _record_refused(self, shop: str, now: datetime, reason: str) -> None:
        """A refused run is recorded as refused (never left running), holding no lock."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(s.sync_runs).values(
                    run_id=self.run_id,
                    shop_domain=shop,
                    status="refused",
                    pid=os.getpid(),
                    host=HOST,
                    started_at=now,
                    heartbeat_at=now,
                    finished_at=now,
                    error=reason[:2000],
                )
            )
        self.refused.add(shop)

    def hold(self, shop: str, now: datetime) -> None:
        """Take the shop's lock for maintenance (a recompute), opening no statistics row.

        Raises:
            SyncAlreadyRunningError: A live sync holds the shop.
        """
        if self.engine.dialect.name == "postgresql":
            self._advisory_lock(shop)
        try:
            with self.engine.begin() as conn:
                self._lock(conn, shop, now)
        except sa.exc.IntegrityError:
            raise SyncAlreadyRunningError(_busy_message(shop, None)) from None
        self.shops[shop] = now

    def release(self, conn: Connection, shop: str) -> None:
        """Give back a lock taken by :meth:`hold` (inside the final transaction)."""
        conn.execute(
            sa.delete(s.sync_locks).where(
                s.sync_locks.c.shop_domain == shop, s.sync_locks.c.run_id == self.run_id
            )
        )

    def _lock(self, conn: Connection, shop: str, now: datetime) -> None:
        holder = conn.execute(
            sa.select(s.sync_locks).where(s.sync_locks.c.shop_domain == shop)
        ).first()
        if holder is not None:
            self._take_over(conn, holder, now)
        conn.execute(
            sa.insert(s.sync_locks).values(
                shop_domain=shop,
                run_id=self.run_id,
                pid=os.getpid(),
                host=HOST,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def _register(self, shop: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._lock(conn, shop, now)
            conn.execute(
                sa.insert(s.sync_runs).values(
                    run_id=self.run_id,
                    shop_domain=shop,
                    status="running",
                    pid=os.getpid(),
                    host=HOST,
                    started_at=now,
                    heartbeat_at=now,
                )
            )
            first = {"shop_domain": shop, "first_synced_at": now}
            conn.execute(upsert(conn, s.shops).on_conflict_do_nothing(), [first])

    def _advisory_lock(self, shop: str) -> None:
        session = self.engine.connect()
        got = session.execute(
            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(shop)}
        ).scalar()
        session.commit()
        if not got:
            with self.engine.connect() as conn:
                holder = conn.execute(
                    sa.select(s.sync_locks).where(s.sync_locks.c.shop_domain == shop)
                ).first()
            session.close()
            raise SyncAlreadyRunningError(_busy_message(shop, holder))
        self._sessions[shop] = session

    def _take_over(self, conn: Connection, holder: Any, now: datetime) -> None:
        """Replace a dead holder, or refuse when it is alive."""
        if self.engine.dialect.name != "postgresql" and self._holder_alive(holder, now):
            raise SyncAlreadyRunningError(_busy_message(holder.shop_domain, holder))
        conn.execute(
            sa.delete(s.sync_locks).where(s.sync_locks.c.shop_domain == holder.shop_domain)
        )
        conn.execute(
            sa.update(s.sync_runs)
            .where(s.sync_runs.c.run_id == holder.run_id, s.sync_runs.c.status == "running")
            .values(status="abandoned", error="the run died without finishing (lock taken over)")
        )

    def _holder_alive(self, holder: Any, now: datetime) -> bool:
        # On this host the pid is proof either way: a live holder is never taken over, however
        # quiet it has been. Only a holder on another host is judged by its heartbeat.
        if holder.host == HOST:
            return _pid_alive(holder.pid)
        return holder.heartbeat_at + self.stale_after >= now

    def heartbeat(self, conn: Connection, shop: str, now: datetime, **counts: Any) -> None:
        """Add to this run's counters and prove it is alive, inside the batch's transaction."""
        runs = s.sync_runs
        values: dict[str, Any] = {"heartbeat_at": now}
        values.update({name: getattr(runs.c, name) + amount for name, amount in counts.items()})
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id == self.run_id, runs.c.shop_domain == shop)
            .values(values)
        )
        conn.execute(
            sa.update(s.sync_locks)
            .where(s.sync_locks.c.shop_domain == shop, s.sync_locks.c.run_id == self.run_id)
            .values(heartbeat_at=now)
        )

    def finish(
        self, conn: Connection, shop: str, status: str, now: datetime, **values: Any
    ) -> None:
        """Close this run's row and release the shop (inside the final transaction)."""
        runs = s.sync_runs
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id == self.run_id, runs.c.shop_domain == shop)
            .values(status=status, finished_at=now, heartbeat_at=now, **values)
        )
        self.release(conn, shop)

    def release_sessions(self) -> None:
        """Drop PostgreSQL advisory locks (closing the session releases them)."""
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()


def _busy_message(shop: str, holder: Any) -> str:
    if holder is None:
        return f"a sync for shop {shop} is already running in this database"
    return (
        f"a sync for shop {shop} is already running in this database: run {holder.run_id} "
        f"(pid {holder.pid} on {holder.host}), started {holder.started_at.isoformat()}"
    )
