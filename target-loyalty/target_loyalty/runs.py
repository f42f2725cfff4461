"""One sync at a time per shop and database, and the per-run statistics row.

The lock is target-runtime's :class:`~target_runtime.shop_lock.ShopLock` on the
``loyalty_sync_locks`` table: one holder per shop; a holder killed with -9 is taken over
once it is provably gone (on PostgreSQL its session advisory lock went with its connection;
on SQLite its pid is dead on this host, or, on another host, its heartbeat is older than
the lease ``lock_lease_seconds``). A live holder on this host is never taken over.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from target_runtime.shop_lock import LockHolder, ShopLock, ShopLockedError

from target_loyalty import schema as s
from target_loyalty.exceptions import SyncAlreadyRunningError
from target_loyalty.storage import upsert

HOST = socket.gethostname()
# The advisory keys hash "target-loyalty:<shop>", as before the lock moved to the runtime.
ADVISORY_NAMESPACE = "target-loyalty"


class RunRegistry:
    """Acquires shop locks for one target run and keeps its ``sync_runs`` rows."""

    def __init__(self, engine: Engine, run_id: str, stale_after: timedelta) -> None:
        """Prepare; nothing is locked until a shop is first seen.

        Args:
            engine: The database.
            run_id: This target run's id.
            stale_after: The lease: heartbeat age after which a holder on another host
                counts as gone (``lock_lease_seconds``).
        """
        self.engine = engine
        self.run_id = run_id
        self.stale_after = stale_after
        self.lock = ShopLock(
            s.sync_locks, run_id, stale_after, advisory_namespace=ADVISORY_NAMESPACE
        )
        self.shops: dict[str, datetime] = {}
        self.refused: set[str] = set()

    def acquire(self, shop: str, now: datetime) -> None:
        """Take the shop's lock and open this run's statistics row.

        Raises:
            SyncAlreadyRunningError: Another live sync holds the shop.
        """
        if shop in self.shops:
            return

        def register(conn: Connection, replaced: LockHolder | None) -> None:
            self._abandon(conn, replaced)
            self._register(conn, shop, now)

        try:
            self.lock.acquire(self.engine, shop, now, then=register)
        except ShopLockedError as busy:
            error = SyncAlreadyRunningError(_busy_message(shop, busy.holder))
            self._record_refused(shop, now, str(error))
            raise error from None
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
        try:
            self.lock.acquire(self.engine, shop, now, then=self._abandon)
        except ShopLockedError as busy:
            raise SyncAlreadyRunningError(_busy_message(shop, busy.holder)) from None
        self.shops[shop] = now

    def release(self, conn: Connection, shop: str) -> None:
        """Give back a lock taken by :meth:`hold` (inside the final transaction)."""
        self.lock.release(conn, shop)

    def _register(self, conn: Connection, shop: str, now: datetime) -> None:
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

    @staticmethod
    def _abandon(conn: Connection, replaced: LockHolder | None) -> None:
        """The run whose lock was taken over died without finishing: say so."""
        if replaced is None:
            return
        conn.execute(
            sa.update(s.sync_runs)
            .where(s.sync_runs.c.run_id == replaced.run_id, s.sync_runs.c.status == "running")
            .values(status="abandoned", error="the run died without finishing (lock taken over)")
        )

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
        self.lock.heartbeat(conn, now, shop)

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
        self.lock.close_sessions()


def _busy_message(shop: str, holder: LockHolder | None) -> str:
    if holder is None:
        return f"a sync for shop {shop} is already running in this database"
    return (
        f"a sync for shop {shop} is already running in this database: run {holder.run_id} "
        f"(pid {holder.pid} on {holder.host}), started {holder.started_at.isoformat()}"
    )
