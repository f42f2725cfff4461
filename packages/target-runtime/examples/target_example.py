"""target-example: Shopify customers as contacts in one SQL table, built on target_runtime.

A minimal singer-sdk target, runnable as a script (``python target_example.py --config
config.json < singer-lines``), to show what a new target writes itself and what the runtime
gives it. It upserts each ``customers`` record into ``example_contacts`` keyed by
(shop_domain, id), a newer ``updated_at`` winning; quarantines what it cannot read (bad lines
and unreadable records) in ``example_quarantine``; allows one run per shop at a time
(``ShopLock``); prints each STATE once everything before it is committed
(``StateAfterCommit``). SQLite or PostgreSQL (``database_url``).

The domain rule and the tables are the product (no singer-sdk in them; in a real target they
live in ``domain/`` and ``schema.py``). The plumbing is every import plus the code between
the ``plumbing`` markers: the wiring to singer-sdk and the runtime. CONTRIBUTING.md gives its
line count; tests/test_example_target.py recounts it (code and docstring lines, not blank
lines or comments) and fails at 100 or more.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from singer_sdk import typing as th
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target
from sqlalchemy.dialects import postgresql, sqlite
from target_runtime.database_url import database_url_from_config
from target_runtime.fields import FieldReader, RecordRejected
from target_runtime.shop_lock import ShopLock, lease_from_config
from target_runtime.singer_input import DeadLetter, ResilientSingerReader
from target_runtime.state_after_commit import StateAfterCommit

# -- the domain rule ------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """One Shopify customer as a contact."""

    shop_domain: str
    id: int
    email: str | None
    name: str
    updated_at: datetime


def contact_from_customer(record: Mapping[str, Any]) -> Contact:
    """The contact a ``customers`` record describes: email lowercased, names joined.

    Raises:
        RecordRejected: naming the record and the field that cannot be read.
    """
    r = FieldReader("customers", record)
    shop, customer_id = r.shop(), r.integer("id")
    updated_at = r.moment("updated_at")  # parsed by singer-sdk; None (missing) if unreadable
    email = r.text("email")
    names = (r.text("first_name"), r.text("last_name"))
    assert customer_id is not None  # required fields are never None
    assert updated_at is not None
    return Contact(
        shop_domain=shop,
        id=customer_id,
        email=email.strip().lower() if email else None,
        name=" ".join(part for part in names if part),
        updated_at=updated_at,
    )


def newer(kept: Contact | None, incoming: Contact) -> Contact:
    """Of two versions of a contact, the newer one (the later on a tie: a replay)."""
    return incoming if kept is None or kept.updated_at <= incoming.updated_at else kept


# -- the tables -----------------------------------------------------------------------------

metadata = sa.MetaData()
contacts = sa.Table(
    "example_contacts",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(320)),
    sa.Column("name", sa.String(511), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
quarantine = sa.Table(
    "example_quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("stream", sa.String(255), nullable=False),
    sa.Column("record_key", sa.Text, nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)
sync_locks = sa.Table(  # the columns ShopLock needs
    "example_sync_locks",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)

# -- plumbing starts ------------------------------------------------------------------------


def upsert_contacts(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or update by (shop_domain, id); a stored newer version is kept."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(contacts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_domain", "id"],
        set_={name: stmt.excluded[name] for name in ("email", "name", "updated_at")},
        where=contacts.c.updated_at <= stmt.excluded.updated_at,
    )
    conn.execute(stmt, rows)


class ContactsSink(BatchSink):
    """``customers``: read each record, then upsert the batch in one transaction."""

    # An unreadable date-time reaches the domain rule as None (quarantined), not as a crash.
    datetime_error_treatment = DatetimeErrorTreatmentEnum.NULL

    def __init__(self, target: TargetExample, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.example = target

    def get_validator(self) -> None:
        """No JSON Schema validation: the domain rule judges, and quarantines, each record."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        try:
            contact = contact_from_customer(record)
        except RecordRejected as why:
            row = {"stream": why.stream, "record_key": why.key, "field": why.field}
            row["reason"] = why.reason
            row["payload"] = json.dumps(record, default=str, sort_keys=True)
            context.setdefault("rejected", []).append(row)
            return  # a quarantine row is this run's own: it needs no shop lock
        # Refused (ShopLockedError, naming the holder) while another run has the shop.
        self.example.lock.acquire(self.example.engine, contact.shop_domain, datetime.now(UTC))
        batch = context.setdefault("contacts", {})
        key = (contact.shop_domain, contact.id)
        batch[key] = newer(batch.get(key), contact)

    def process_batch(self, context: dict[str, Any]) -> None:
        with self.example.engine.begin() as conn:
            self.example.lock.heartbeat(conn, datetime.now(UTC))
            if context.get("contacts"):
                upsert_contacts(conn, [asdict(c) for c in context["contacts"].values()])
            self.example.quarantine(conn, context.get("rejected", []))


class SkippedSink(BatchSink):
    """Any other stream: read, and nothing of it stored."""

    def process_batch(self, context: dict[str, Any]) -> None: ...


class TargetExample(StateAfterCommit, Target):
    """Shopify customers as contacts in SQLite or PostgreSQL."""

    name = "target-example"
    message_reader_class = ResilientSingerReader
    config_jsonschema = th.PropertiesList(
        th.Property("database_url", th.StringType, secret=True),
        th.Property("lock_lease_seconds", th.NumberType),
    ).to_dict()
    default_sink_class = SkippedSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one writer per run: the lock's heartbeat is per run
        self.run_id = uuid.uuid4().hex
        url = database_url_from_config(self.config, "sqlite:///target_example.db")
        self.engine = sa.create_engine(url)
        metadata.create_all(self.engine)
        lease = lease_from_config(self.config, 600)
        self.lock = ShopLock(sync_locks, self.run_id, lease, advisory_namespace=self.name)
        self.message_reader.on_dead_letter = self.dead_letter  # type: ignore[attr-defined]

    def get_sink_class(self, stream_name: str) -> type[BatchSink]:
        return ContactsSink if stream_name == "customers" else SkippedSink

    def quarantine(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.logger.warning("Quarantined %(stream)s %(record_key)s: %(reason)s", row)
        if rows:
            conn.execute(sa.insert(quarantine), [{**row, "run_id": self.run_id} for row in rows])

    def dead_letter(self, letter: DeadLetter) -> None:
        """A line that is no Singer message, kept in its own transaction; the run goes on."""
        row = {"stream": "input", "record_key": f"line {letter.line_number}", "field": "line"}
        with self.engine.begin() as conn:
            self.quarantine(conn, [{**row, "reason": letter.reason, "payload": letter.raw}])

    def process_endofpipe(self) -> None:
        """Everything is committed (and the last STATE printed): give the shops back."""
        super().process_endofpipe()
        with self.engine.begin() as conn:
            self.lock.release(conn)
        self.lock.close_sessions()


if __name__ == "__main__":
    TargetExample.cli()

# -- plumbing ends --------------------------------------------------------------------------
