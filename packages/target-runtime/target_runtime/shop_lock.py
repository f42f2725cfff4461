"""One sync at a time per shop and database: a lock row per shop, taken by compare-and-swap.

The caller gives the table (tables stay in each target). It needs these columns:
``shop_domain`` (the primary key), ``run_id``, ``pid``, a host column (``host`` by default),
``started_at`` and ``heartbeat_at`` (timezone-aware datetimes).

Whether a holder found in the table is still running:

- On PostgreSQL each holder also keeps a session advisory lock on the shop for its whole
  run. The server drops it when the holder's connection goes, however the process died, so
  getting it proves the holder gone, on any host, with no lease to wait out; failing to get
  it proves the holder alive, however quiet.
- Otherwise (SQLite), on the same host the pid decides: a live process keeps its lock however
  long it has been quiet (a tap can wait minutes for a bulk operation), a dead pid is a run
  killed with -9. Our own pid counts as alive too: another run in this process may hold it,
  and two writers are worse than a refusal (target-crm used to take such a lock over).
- A holder on another host is alive while its heartbeat is younger than the lease
  (``lock_lease_seconds``).

A gone holder is replaced by compare-and-swap on its run id, so of two runs taking over at
the same moment one wins and the other is refused. The caller records the replaced run as
abandoned in its own run table, in the same transaction.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

#: The one setting name for the lease, in every target.
LEASE_SETTING = "lock_lease_seconds"


@dataclass(frozen=True)
class LockHolder:
    """The run that holds (or held) a shop's lock, as its row says."""

    shop_domain: str
    run_id: str
    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime


class ShopLockedError(RuntimeError):
    """Another live run holds the shop; ``holder`` is its row (None if it could not be read)."""

    def __init__(self, shop: str, holder: LockHolder | None) -> None:
        self.shop = shop
        self.holder = holder
        if holder is None:
            message = f"another sync took the lock for shop {shop} at the same time"
        else:
            message = (
                f"another sync is running for shop {shop}: run {holder.run_id} "
                f"(pid {holder.pid} on {holder.host}) started at "
                f"{holder.started_at.isoformat()}, last heartbeat "
                f"{holder.heartbeat_at.isoformat()}"
            )
        super().__init__(message)


def lease_from_config(
    config: Mapping[str, Any],
    default_seconds: float,
    deprecated_names: tuple[str, ...] = (),
    warn: Callable[[str], None] | None = None,
) -> timedelta:
    """The lease from ``lock_lease_seconds``, else from a deprecated name, else the default.

    Args:
        config: The target's config.
        default_seconds: The target's default lease.
        deprecated_names: Older names of the setting, still accepted (the first one set wins).
        warn: Called with a deprecation note when only an older name is set.

    Raises:
        ValueError: the lease is not a number of seconds >= 0.
    """
    name, raw = LEASE_SETTING, config.get(LEASE_SETTING)
    for old in deprecated_names:
        if raw is not None:
            break
        name, raw = old, config.get(old)
        if raw is not None and warn is not None:
            warn(f"setting {old} is deprecated: use {LEASE_SETTING}")
    if raw is None:
        return timedelta(seconds=default_seconds)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        msg = f"setting {name} must be a number of seconds, got {raw!r}"
        raise ValueError(msg)
    if raw < 0:
        msg = f"setting {name} must be 0 or more seconds, got {raw!r}"
        raise ValueError(msg)
    return timedelta(seconds=raw)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def advisory_key(namespace: str, shop: str) -> int:
    """A stable signed 64-bit key for the shop's PostgreSQL advisory lock."""
    digest = hashlib.sha256(f"{namespace}:{shop}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ShopLock:
    """The shop locks of one run, kept in the caller's table."""

    def __init__(
        self,
        table: sa.Table,
        run_id: str,
        lease: timedelta,
        *,
        advisory_namespace: str,
        host_column: str = "host",
        pid: int | None = None,
        host: str | None = None,
    ) -> None:
        """Prepare; nothing is locked until :meth:`acquire`.

        Args:
            table: The target's lock table (columns: see the module's docstring).
            run_id: This run's id.
            lease: Heartbeat age after which a holder on another host counts as gone.
            advisory_namespace: Prefix of the PostgreSQL advisory keys (the target's name),
                so two products sharing a database never block each other.
            host_column: The name of the table's host column.
            pid: This process (tests give another).
            host: This host (tests give another).
        """
        self.table = table
        self.run_id = run_id
        self.lease = lease
        self.namespace = advisory_namespace
        self.host_column = host_column
        self.pid = os.getpid() if pid is None else pid
        self.host = socket.gethostname() if host is None else host
        self.held: set[str] = set()
        self._sessions: dict[str, Connection] = {}

    # -- taking a shop -----------------------------------------------------------------

    def acquire(
        self,
        engine: Engine,
        shop: str,
        now: datetime,
        then: Callable[[Connection, LockHolder | None], None] | None = None,
    ) -> None:
        """Take the shop's lock, or fail at once naming the live run that holds it.

        Args:
            engine: The database.
            shop: The shop domain.
            now: The wall clock (heartbeats are compared with it).
            then: Called inside the transaction that takes the lock, with the holder it
                replaced (None when the shop was free): the caller's run bookkeeping.

        Raises:
            ShopLockedError: another live run holds the shop.
        """
        if shop in self.held:
            return
        proven_gone = False
        if engine.dialect.name == "postgresql":
            self._advisory_lock(engine, shop)
            proven_gone = True
        try:
            with engine.begin() as conn:
                replaced = self.claim(conn, shop, now, holder_proven_gone=proven_gone)
                if then is not None:
                    then(conn, replaced)
        except BaseException:
            self._close_session(shop)
            raise
        self.held.add(shop)

    def claim(
        self, conn: Connection, shop: str, now: datetime, *, holder_proven_gone: bool = False
    ) -> LockHolder | None:
        """Take the lock row in the caller's transaction; returns the holder it replaced.

        Raises:
            ShopLockedError: another live run holds the row.
        """
        ours = {
            "run_id": self.run_id,
            "pid": self.pid,
            self.host_column: self.host,
            "started_at": now,
            "heartbeat_at": now,
        }
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        free = insert(self.table).values(shop_domain=shop, **ours).on_conflict_do_nothing()
        # Twice: a holder may release its row between our insert and our read.
        for _ in range(2):
            if conn.execute(free).rowcount == 1:
                return None
            holder = self.holder(conn, shop)
            if holder is None:
                continue
            if holder.run_id == self.run_id:
                return None
            if not holder_proven_gone and self._alive(holder, now):
                raise ShopLockedError(shop, holder)
            swapped = conn.execute(
                sa.update(self.table)
                .where(self.table.c.shop_domain == shop, self.table.c.run_id == holder.run_id)
                .values(**ours)
            ).rowcount
            if swapped != 1:
                raise ShopLockedError(shop, None)
            return holder
        raise ShopLockedError(shop, None)

    def holder(self, conn: Connection, shop: str) -> LockHolder | None:
        """The shop's lock row, if any."""
        row = conn.execute(sa.select(self.table).where(self.table.c.shop_domain == shop)).first()
        if row is None:
            return None
        return LockHolder(
            shop_domain=row.shop_domain,
            run_id=row.run_id,
            pid=row.pid,
            host=row._mapping[self.host_column],
            started_at=_aware(row.started_at),
            heartbeat_at=_aware(row.heartbeat_at),
        )

    def _alive(self, holder: LockHolder, now: datetime) -> bool:
        if holder.host == self.host:
            return pid_alive(holder.pid)
        return now - holder.heartbeat_at <= self.lease

    def _advisory_lock(self, engine: Engine, shop: str) -> None:
        session = engine.connect()
        got = session.execute(
            sa.text("SELECT pg_try_advisory_lock(:key)"),
            {"key": advisory_key(self.namespace, shop)},
        ).scalar()
        session.commit()
        if got:
            self._sessions[shop] = session
            return
        session.close()
        with engine.connect() as conn:
            holder = self.holder(conn, shop)
        raise ShopLockedError(shop, holder)

    # -- while running, and at the end -------------------------------------------------

    def heartbeat(self, conn: Connection, now: datetime, shop: str | None = None) -> None:
        """Prove this run alive (inside a batch's transaction): one shop, or all it holds."""
        where = [self.table.c.run_id == self.run_id]
        if shop is not None:
            where.append(self.table.c.shop_domain == shop)
        conn.execute(sa.update(self.table).where(*where).values(heartbeat_at=now))

    def release(self, conn: Connection, shop: str | None = None) -> None:
        """Give back one shop, or all (inside the run's final transaction).

        The PostgreSQL advisory locks stay until :meth:`close_sessions`, after the commit,
        so no other run can take the shop between our delete and our commit.
        """
        where = [self.table.c.run_id == self.run_id]
        if shop is not None:
            where.append(self.table.c.shop_domain == shop)
        conn.execute(sa.delete(self.table).where(*where))
        if shop is None:
            self.held.clear()
        else:
            self.held.discard(shop)

    def close_sessions(self) -> None:
        """Give back the PostgreSQL advisory locks (a process that dies loses them too)."""
        for shop in list(self._sessions):
            self._close_session(shop)

    def _close_session(self, shop: str) -> None:
        session = self._sessions.pop(shop, None)
        if session is None:
            return
        # Closing a pooled connection only returns it to the pool, advisory lock and all:
        # unlock first (and drop the connection when that fails).
        try:
            session.execute(
                sa.text("SELECT pg_advisory_unlock(:key)"),
                {"key": advisory_key(self.namespace, shop)},
            )
            session.commit()
        except sa.exc.DBAPIError:
            session.invalidate()
        session.close()


def _aware(moment: datetime) -> datetime:
    """Stored times are UTC; a column type that returns them naive gets UTC attached."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
