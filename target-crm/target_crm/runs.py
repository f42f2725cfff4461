"""Run bookkeeping: sync runs, the one-sync-per-shop lock, statistics, quarantine, cut-over."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from target_runtime.quarantine import dead_letter_row
from target_runtime.run_record import RunRecord
from target_runtime.shop_lock import LockHolder, ShopLock, ShopLockedError

from target_crm import schema as t
from target_crm.exceptions import SyncAlreadyRunningError
from target_crm.storage import upsert

StatKey = tuple[str, str, str, str]  # shop, stream, outcome, reason


class RunLedger:
    """One target run: its row in `sync_runs`, its shop locks and its statistics.

    The locks are target-runtime's :class:`~target_runtime.shop_lock.ShopLock` on the
    `sync_locks` table: a live run on this host keeps its lock however quiet; a run killed
    with -9 is taken over (on PostgreSQL once its advisory lock went with its connection,
    on SQLite once its pid is dead, or on another host once its heartbeat is older than
    `lock_lease_seconds`) and marked `abandoned`.
    """

    def __init__(self, engine: Engine, run_id: str, lease_seconds: float) -> None:
        """Bind the ledger to a store.

        Args:
            engine: The store.
            run_id: This run's id.
            lease_seconds: A lock on another host whose heartbeat is older than this is
                abandoned.
        """
        self.engine = engine
        self.run_id = run_id
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        self.lease_seconds = lease_seconds
        self.lock = ShopLock(
            t.sync_locks,
            run_id,
            timedelta(seconds=lease_seconds),
            advisory_namespace="target-crm",
            host_column="hostname",
            pid=self.pid,
            host=self.hostname,
        )
        self.record = RunRecord(t.sync_runs, self.lock, per_shop=False)
        self.rejected = 0

    @property
    def locked(self) -> set[str]:
        """The shops this run holds."""
        return self.lock.held

    def start(self, now: datetime) -> None:
        """Record the run as running."""
        with self.engine.begin() as conn:
            self.record.open(conn, now)

    def finish(self, status: str, now: datetime, error: str | None = None) -> None:
        """Record the run's end and release its shop locks."""
        with self.engine.begin() as conn:
            self.record.close(conn, status, now, error=error)
        self.lock.close_sessions()

    def acquire(self, shop: str, now: datetime) -> None:
        """Take the shop's sync lock, or fail at once naming the sync that holds it.

        Args:
            shop: The shop domain.
            now: The store's clock.

        Raises:
            SyncAlreadyRunningError: another live run holds the lock.
        """
        try:
            self.lock.acquire(self.engine, shop, now, then=self._abandon)
        except ShopLockedError as busy:
            raise SyncAlreadyRunningError(str(busy)) from None

    def _abandon(self, conn: Connection, replaced: LockHolder | None) -> None:
        """The run whose lock was taken over died without finishing: say so."""
        self.record.abandon(conn, replaced, f"lock taken over by run {self.run_id}")

    def heartbeat(self, conn: Connection, now: datetime) -> None:
        """Prove this run alive (inside the batch transaction)."""
        self.record.heartbeat(conn, now)

    def add_stats(self, conn: Connection, counts: Mapping[StatKey, int]) -> None:
        """Add counts to this run's statistics (received, created, skipped by reason...)."""
        rows = [
            {
                "run_id": self.run_id,
                "shop_domain": shop,
                "stream": stream,
                "outcome": outcome,
                "reason": reason,
                "count": n,
            }
            for (shop, stream, outcome, reason), n in counts.items()
            if n
        ]
        if not rows:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.run_stats)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.name for c in t.run_stats.primary_key.columns],
            set_={"count": t.run_stats.c["count"] + stmt.excluded["count"]},
        )
        conn.execute(stmt, rows)

    def quarantine(self, conn: Connection, rows: Iterable[dict[str, Any]], now: datetime) -> None:
        """Keep rejected records with the reason (stream, key, field, payload)."""
        values = [{**r, "run_id": self.run_id, "quarantined_at": now} for r in rows]
        if values:
            conn.execute(t.quarantine.insert(), values)

    def dead_letter(self, conn: Connection, letter: Any, now: datetime) -> None:
        """Keep an input line that is no valid Singer message, with its reason."""
        row = {**dead_letter_row(letter), "run_id": self.run_id, "recorded_at": now}
        upsert(conn, t.dead_letters, [row])

    def list_skipped(
        self, conn: Connection, items: Iterable[tuple[str, str, str]], now: datetime
    ) -> None:
        """List records not loaded, with the reason (stream, key, reason)."""
        rows = [
            {"run_id": self.run_id, "stream": s, "record_key": k, "reason": r, "recorded_at": now}
            for s, k, r in set(items)
        ]
        upsert(conn, t.skipped_records, rows)


def load_cutovers(conn: Connection, shops: Iterable[str]) -> dict[str, datetime | None]:
    """Each shop's recorded silent-backfill cut-over (None while the initial sync runs)."""
    wanted = sorted(set(shops))
    query = sa.select(t.shops.c.shop_domain, t.shops.c.cutover_at).where(
        t.shops.c.shop_domain.in_(wanted)
    )
    found: dict[str, datetime | None] = {row[0]: row[1] for row in conn.execute(query)}
    return {shop: found.get(shop) for shop in wanted}


def record_cutovers(
    conn: Connection,
    watermarks: Mapping[str, datetime],
    source: str,
    run_id: str,
    *,
    overwrite: bool = False,
) -> None:
    """Record the cut-over of shops that have none yet: the initial sync has completed."""
    rows = [
        {"shop_domain": s, "cutover_at": at, "cutover_source": source, "cutover_run_id": run_id}
        for s, at in watermarks.items()
    ]
    upsert(conn, t.shops, rows)
    held = load_cutovers(conn, watermarks)
    fill = [r for r in rows if overwrite or held.get(str(r["shop_domain"])) is None]
    for row in fill:
        conn.execute(
            t.shops.update()
            .where(t.shops.c.shop_domain == row["shop_domain"])
            .values(cutover_at=row["cutover_at"], cutover_source=source, cutover_run_id=run_id)
        )


def new_counter() -> Counter[StatKey]:
    """An empty statistics counter."""
    return Counter()
