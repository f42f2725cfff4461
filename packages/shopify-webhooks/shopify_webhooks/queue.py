"""The webhook queue table (SQLAlchemy Core, SQLite or PostgreSQL) and its one writer.

Every signed delivery becomes one row, committed before the receiver answers 200. The
``position`` column is the queue's order: rows are written one at a time (a lock in the
process, a transaction-scoped advisory lock on PostgreSQL for several processes), so
positions are committed in increasing order and a reader that has seen position N never
later finds a new row at or below N.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
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
        return self.store_many([delivery], now)[0]

    def store_many(
        self, deliveries: Sequence[Delivery], now: datetime | None = None
    ) -> list[StoreOutcome]:
        """Commit ``deliveries`` in one transaction, in order; all or none on a DB error.

        A delivery repeating an earlier one of the same batch is its duplicate, as it would
        be in separate transactions.
        """
        now = now or datetime.now(UTC)
        with self._writing() as connection:
            return [_store_one(connection, delivery, now) for delivery in deliveries]

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


# Every statement of the write path is built once with bound parameters: SQLAlchemy then
# reuses its compiled form (building and compiling per delivery cost more than the write;
# the dialects' ON CONFLICT inserts are never cached at all).
_c = queue_table.c
_INSERT = sa.insert(queue_table).returning(_c.position)
_SAME_SHOP = _c.shop_domain == sa.bindparam("shop_domain")
_SAME_WEBHOOK = _c.webhook_id == sa.bindparam("webhook_id")
_SAME_EVENT = sa.and_(_c.topic == sa.bindparam("topic"), _c.event_id == sa.bindparam("event_id"))
_ORIGINAL = {
    # (has a webhook id, has an event id) -> the look-up of the row a delivery repeats
    (True, True): sa.select(sa.func.min(_c.position)).where(
        _SAME_SHOP, sa.or_(_SAME_WEBHOOK, _SAME_EVENT)
    ),
    (True, False): sa.select(sa.func.min(_c.position)).where(_SAME_SHOP, _SAME_WEBHOOK),
    (False, True): sa.select(sa.func.min(_c.position)).where(_SAME_SHOP, _SAME_EVENT),
}
_COUNT_DUPLICATE = (
    sa.update(queue_table)
    .where(_c.position == sa.bindparam("original"))
    .values(duplicate_count=_c.duplicate_count + 1, last_duplicate_at=sa.bindparam("now"))
)


def _store_one(connection: Connection, delivery: Delivery, now: datetime) -> StoreOutcome:
    # Writers hold the queue's write lock, so no other insert can come between this look-up
    # and the insert; the unique constraints still stand guard (a violation fails the
    # batch, whose deliveries are then retried one by one and found here as duplicates).
    original = _original_position(connection, delivery)
    if original is not None:
        connection.execute(_COUNT_DUPLICATE, {"original": original, "now": now})
        return StoreOutcome(original, duplicate=True)
    position = connection.execute(_INSERT, _row(delivery, now)).scalar_one()
    return StoreOutcome(int(position), duplicate=False)


def _original_position(connection: Connection, delivery: Delivery) -> int | None:
    """The position of the row ``delivery`` repeats (same webhook id, or topic and event id)."""
    lookup = _ORIGINAL.get((delivery.webhook_id is not None, delivery.event_id is not None))
    if lookup is None:
        return None
    position = connection.execute(
        lookup,
        {
            "shop_domain": delivery.shop_domain,
            "webhook_id": delivery.webhook_id,
            "topic": delivery.topic,
            "event_id": delivery.event_id,
        },
    ).scalar()
    return None if position is None else int(position)
