"""The webhook queue table (SQLAlchemy Core, SQLite or PostgreSQL) and its one writer.

Every signed delivery becomes one row, committed before the receiver answers 200. The
``position`` column is the queue's order: rows are written one at a time (a lock in the
process, a transaction-scoped advisory lock on PostgreSQL for several processes), so
positions are committed in increasing order and a reader that has seen position N never
later finds a new row at or below N.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from shopify_webhooks.domain.topics import Classification
from shopify_webhooks.exceptions import QueueNotFoundError

TABLE_NAME = "shopify_webhook_queue"
# Any fixed 64-bit number: the key of the advisory lock that orders the writers.
_WRITER_LOCK_KEY = 7_305_213_651
ORIGIN_WEBHOOK = "webhook"
ORIGIN_LOCAL = "local"

metadata = sa.MetaData()
# BIGINT on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
_Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

queue_table = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("position", _Position, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("ignored_reason", sa.Text, nullable=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("webhook_id", sa.String(255), nullable=True),
    sa.Column("event_id", sa.String(255), nullable=True),
    sa.Column("triggered_at", sa.String(64), nullable=True),
    sa.Column("api_version", sa.String(32), nullable=True),
    sa.Column("resource_kind", sa.String(16), nullable=True),
    sa.Column("resource_id", sa.BigInteger, nullable=True),
    sa.Column("duplicate_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_duplicate_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=False),
    # Shopify repeats a delivery with its webhook id; one merchant action reaching this
    # topic twice (two subscriptions) shares the event id. Either makes a duplicate.
    sa.UniqueConstraint("shop_domain", "webhook_id", name="uq_webhook_queue_webhook_id"),
    sa.UniqueConstraint("shop_domain", "topic", "event_id", name="uq_webhook_queue_event_id"),
    # AUTOINCREMENT: SQLite never hands out a position again, even after pruning.
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class Delivery:
    """One delivery as it will be stored (headers already read, body still raw)."""

    origin: str
    shop_domain: str
    topic: str
    webhook_id: str | None
    event_id: str | None
    triggered_at: str | None
    api_version: str | None
    classification: Classification
    body: bytes


@dataclass(frozen=True)
class StoreOutcome:
    """Where a delivery went: its position, and whether it was a duplicate of that row."""

    position: int
    duplicate: bool


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver this package installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# synchronous=FULL: the WAL is synced at every commit, so an answered 200 survives a power
# cut, not only a killed process.
_SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000")


def _sqlite_durable(dbapi_connection: Any, _record: Any) -> None:
    for pragma in _SQLITE_PRAGMAS:
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _postgres_durable(dbapi_connection: Any, _record: Any) -> None:
    # A server configured with synchronous_commit=off would acknowledge before the WAL is
    # flushed; the receiver's 200 is a promise, so it asks for the flush explicitly.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET synchronous_commit = on")
    cursor.close()
    dbapi_connection.commit()


def create_queue_engine(url: str) -> Engine:
    """An engine whose commits are durable (SQLite WAL + FULL sync, PostgreSQL sync commit)."""
    url = normalise_url(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_durable)
    elif engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _postgres_durable)
    return engine


class WebhookQueue:
    """The queue table on one database: the receiver writes it, readers page through it."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open the queue at ``url``; ``create=False`` refuses a database without one."""
        self.engine = create_queue_engine(url)
        self._write_lock = threading.Lock()
        if create:
            metadata.create_all(self.engine)
        elif not sa.inspect(self.engine).has_table(TABLE_NAME):
            self.engine.dispose()
            raise QueueNotFoundError(f"no {TABLE_NAME} table at that database URL")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITER_LOCK_KEY)))
            yield connection

    def store(self, delivery: Delivery, now: datetime | None = None) -> StoreOutcome:
        """Commit ``delivery``, or count it on the row it duplicates; raises on a DB error."""
        now = now or datetime.now(UTC)
        row = _row(delivery, now)
        with self._writing() as connection:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(queue_table).values(**row).on_conflict_do_nothing()
            position = connection.execute(insert.returning(queue_table.c.position)).scalar()
            if position is not None:
                return StoreOutcome(int(position), duplicate=False)
            return StoreOutcome(_count_duplicate(connection, delivery, now), duplicate=True)

    def rows_after(self, position: int, limit: int) -> list[sa.Row[Any]]:
        """Up to ``limit`` rows after ``position``, in queue order."""
        query = (
            sa.select(queue_table)
            .where(queue_table.c.position > position)
            .order_by(queue_table.c.position)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    def counts(self) -> list[sa.Row[Any]]:
        """(topic, origin, state, deliveries, duplicates) for every group present."""
        c = queue_table.c
        query = (
            sa.select(
                c.topic,
                c.origin,
                c.state,
                sa.func.count().label("deliveries"),
                sa.func.coalesce(sa.func.sum(c.duplicate_count), 0).label("duplicates"),
            )
            .group_by(c.topic, c.origin, c.state)
            .order_by(c.topic, c.origin, c.state)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query))


def _row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    found = delivery.classification
    return {
        "received_at": now,
        "origin": delivery.origin,
        "state": found.state.value,
        "ignored_reason": found.reason,
        "shop_domain": delivery.shop_domain,
        "topic": delivery.topic,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "triggered_at": delivery.triggered_at,
        "api_version": delivery.api_version,
        "resource_kind": None if found.kind is None else found.kind.value,
        "resource_id": found.resource_id,
        "body": delivery.body,
    }


def _count_duplicate(connection: Connection, delivery: Delivery, now: datetime) -> int:
    c = queue_table.c
    same = []
    if delivery.webhook_id is not None:
        same.append(c.webhook_id == delivery.webhook_id)
    if delivery.event_id is not None:
        same.append(sa.and_(c.topic == delivery.topic, c.event_id == delivery.event_id))
    original = connection.execute(
        sa.select(sa.func.min(c.position)).where(
            c.shop_domain == delivery.shop_domain, sa.or_(*same)
        )
    ).scalar_one()
    connection.execute(
        sa.update(queue_table)
        .where(c.position == original)
        .values(duplicate_count=c.duplicate_count + 1, last_duplicate_at=now)
    )
    return int(original)
