"""One sync at a time per shop and database, and the per-run statistics row.

The lock is target-runtime's :class:`~target_runtime.shop_lock.ShopLock` on the
``loyalty_sync_locks`` table: one holder per shop; a holder killed with -9 is taken over
once it is provably gone (on PostgreSQL its session advisory lock went with its connection;
on SQLite its pid is dead on this host, or, on another host, its heartbeat is older than
the lease ``lock_lease_seconds``). A live holder on this host is never taken over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine
from target_runtime.run_record import RunRecord
from target_runtime.shop_lock import LockHolder, ShopLock, ShopLockedError

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.exceptions import SyncAlreadyRunningError

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
        self.record = RunRecord(s.sync_runs, self.lock, per_shop=True)
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
        self.record.refused(self.engine, now, reason, shop)
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
        self.record.open(conn, now, shop)
        storage.note_first_sync(conn, shop, now)

    def _abandon(self, conn: Connection, replaced: LockHolder | None) -> None:
        """The run whose lock was taken over died without finishing: say so."""
        self.record.abandon(conn, replaced, "the run died without finishing (lock taken over)")

    def heartbeat(self, conn: Connection, shop: str, now: datetime, **counts: Any) -> None:
        """Add to this run's counters and prove it is alive, inside the batch's transaction."""
        self.record.heartbeat(conn, now, shop, **counts)

    def finish(
        self, conn: Connection, shop: str, status: str, now: datetime, **values: Any
    ) -> None:
        """Close this run's row and release the shop (inside the final transaction)."""
        self.record.close(conn, status, now, shop, **values)

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
