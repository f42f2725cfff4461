"""A target run's row in its ``sync_runs`` table, kept beside the run's shop locks.

Both targets record each run as ``running`` when it starts, prove it alive with every
committed batch (the row's ``heartbeat_at`` and the lock's, in the batch's transaction),
close it with its final status, and mark ``abandoned`` a run whose lock was taken over
because it died without finishing. A target keeps one row per run (``per_shop=False``) or one
per run and shop (``per_shop=True``); its table has at least ``run_id``, ``status``, ``pid``,
the host column, ``started_at``, ``heartbeat_at``, ``finished_at`` and ``error`` (and
``shop_domain`` when per shop). The statistics columns are the target's own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from target_runtime.shop_lock import LockHolder, ShopLock

__all__ = ["ERROR_CHARS", "RunRecord"]

#: Longest error text kept on a run's row.
ERROR_CHARS = 2_000


class RunRecord:
    """One target run's rows in a ``sync_runs`` table, and the shop lock they go with."""

    def __init__(
        self,
        runs: sa.Table,
        lock: ShopLock,
        *,
        per_shop: bool,
    ) -> None:
        """Bind the run to its table and lock.

        Args:
            runs: The target's ``sync_runs`` table; its host column is named as the lock
                table's.
            lock: The run's shop lock: its run id, pid and host are the row's.
            per_shop: Whether the table keeps one row per run and shop.
        """
        self.runs = runs
        self.lock = lock
        self.run_id = lock.run_id
        self.per_shop = per_shop
        self.host_column = lock.host_column
        self.pid = lock.pid
        self.host = lock.host

    def _row(self, shop: str | None) -> Any:
        where = self.runs.c.run_id == self.run_id
        if self.per_shop:
            where = sa.and_(where, self.runs.c.shop_domain == shop)
        return where

    def _opening(self, shop: str | None, status: str, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {
            "run_id": self.run_id,
            "status": status,
            "pid": self.pid,
            self.host_column: self.host,
            "started_at": now,
            "heartbeat_at": now,
        }
        if self.per_shop:
            values["shop_domain"] = shop
        return values

    def open(self, conn: Connection, now: datetime, shop: str | None = None) -> None:
        """Record the run (for ``shop`` when per shop) as running.

        Args:
            conn: The transaction.
            now: The start.
            shop: The shop, when the table keeps a row per shop.
        """
        conn.execute(sa.insert(self.runs).values(self._opening(shop, "running", now)))

    def refused(self, engine: Engine, now: datetime, reason: str, shop: str | None = None) -> None:
        """Record a run refused at its start as ``refused`` (never left running).

        Args:
            engine: The store (a transaction of its own: the run holds no lock).
            now: The moment of refusal.
            reason: Why (names the live run).
            shop: The shop, when the table keeps a row per shop.
        """
        values = self._opening(shop, "refused", now)
        values.update(finished_at=now, error=reason[:ERROR_CHARS])
        with engine.begin() as conn:
            conn.execute(sa.insert(self.runs).values(values))

    def abandon(self, conn: Connection, replaced: LockHolder | None, reason: str) -> None:
        """Mark ``abandoned`` the still-running rows of a run whose lock was taken over.

        Args:
            conn: The transaction taking the lock over.
            replaced: The dead holder (None when the lock was free).
            reason: What the row's error says.
        """
        if replaced is None:
            return
        conn.execute(
            sa.update(self.runs)
            .where(self.runs.c.run_id == replaced.run_id, self.runs.c.status == "running")
            .values(status="abandoned", error=reason[:ERROR_CHARS])
        )

    def abandoning(self, reason: str) -> Callable[[Connection, LockHolder | None], None]:
        """``abandon`` with its reason bound, for ``ShopLock.acquire(then=...)``."""
        return lambda conn, replaced: self.abandon(conn, replaced, reason)

    def heartbeat(
        self, conn: Connection, now: datetime, shop: str | None = None, **counts: int
    ) -> None:
        """Prove the run alive, adding ``counts`` to the row's counters, in the batch's transaction.

        Args:
            conn: The batch's transaction.
            now: The batch's commit time.
            shop: The shop (its row when per shop; its lock either way); None: every lock.
            **counts: Counter column to amount added.
        """
        values: dict[str, Any] = {"heartbeat_at": now}
        values.update({name: self.runs.c[name] + amount for name, amount in counts.items()})
        conn.execute(sa.update(self.runs).where(self._row(shop)).values(values))
        self.lock.heartbeat(conn, now, shop)

    def close(
        self,
        conn: Connection,
        status: str,
        now: datetime,
        shop: str | None = None,
        **values: Any,
    ) -> None:
        """Record the run's end and release its lock (of ``shop``, or all) in the transaction.

        Args:
            conn: The final transaction.
            status: The run's final status.
            now: The end.
            shop: The shop whose row and lock close; None: the run's row and every lock.
            **values: Further columns to set (the error, final counters).
        """
        conn.execute(
            sa.update(self.runs)
            .where(self._row(shop))
            .values(status=status, finished_at=now, heartbeat_at=now, **values)
        )
        self.lock.release(conn, shop)
