"""The database schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Money is stored as exact decimal text on SQLite (its NUMERIC is a float) and as
NUMERIC on PostgreSQL; times are stored as naive UTC and read back as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact decimal on both backends."""

    impl = sa.Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Text on SQLite, where NUMERIC would round-trip through float."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(20, 4))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Store the decimal's exact text on SQLite."""
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always hand back a Decimal."""
        return None if value is None else Decimal(str(value))


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Normalise to naive UTC for storage."""
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> Any:
        """Attach UTC again."""
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

shops = sa.Table(
    "loyalty_shops",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("first_synced_at", UTCDateTime, nullable=False),
)

accounts = sa.Table(
    "loyalty_accounts",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(320)),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("phone", sa.String(64)),
    sa.Column("shopify_state", sa.String(32)),
    sa.Column("tags", sa.Text),
    sa.Column("created_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("merged_into", sa.BigInteger),
    sa.Column("tier", sa.String(64)),
    sa.Column("net_spend", Money),
    sa.Column("points_balance", sa.BigInteger),
    sa.Column("cashback_balance", Money),
    sa.Column("metrics_at", UTCDateTime),
    # Purge looks for deleted and merged accounts without reading the live ones.
    sa.Index("ix_accounts_status", "shop_domain", "status"),
)

orders = sa.Table(
    "loyalty_orders",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("order_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.BigInteger),
    sa.Column("previous_customer_id", sa.BigInteger),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("test", sa.Boolean, nullable=False),
    sa.Column("cancelled", sa.Boolean, nullable=False),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("net_basis", Money, nullable=False),
    sa.Column("last_run_id", sa.String(36), index=True),
    # Closing reads the orders of the customers it recomputes; led by the shop, or a
    # query's shop condition would pick an index that scans every order of the shop.
    sa.Index("ix_orders_customer", "shop_domain", "customer_id"),
    # Closing finds the orders whose tier period a moved clock changed.
    sa.Index("ix_orders_created", "shop_domain", "created_at"),
)

ledger = sa.Table(
    "loyalty_ledger",
    metadata,
    sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("uncollected", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cashback", Money, nullable=False),
    sa.Column("rate", Money),
    sa.Column("rule", sa.String(255), nullable=False),
    sa.Column("order_id", sa.BigInteger),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("merged_from", sa.BigInteger),
    sa.UniqueConstraint("shop_domain", "customer_id", "source", "kind", name="uq_ledger_key"),
    sa.Index("ix_ledger_order", "shop_domain", "order_id"),
    # Closing finds the lots a moved clock brought to their expiry date.
    sa.Index("ix_ledger_occurred", "shop_domain", "occurred_at"),
)

roster = sa.Table(
    "loyalty_roster",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

sync_runs = sa.Table(
    "loyalty_sync_runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("orders_synced", sa.Integer, nullable=False, server_default="0"),
    sa.Column("customer_records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("customers_synced", sa.Integer, nullable=False, server_default="0"),
    sa.Column("points_issued", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cashback_issued", Money),
    sa.Column("earliest_order_at", UTCDateTime),
    sa.Column("latest_order_at", UTCDateTime),
    sa.Column("discrepancies", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
    sa.Column("customers_deleted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("customers_merged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accounts_purged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
)

# One row per shop being synced: its primary key is the "one sync at a time" guard.
sync_locks = sa.Table(
    "loyalty_sync_locks",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)

discrepancies = sa.Table(
    "loyalty_discrepancies",
    metadata,
    sa.Column(
        "discrepancy_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    ),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("corrected", sa.Boolean, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

quarantine = sa.Table(
    "loyalty_quarantine",
    metadata,
    sa.Column(
        "quarantine_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    ),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

# The tap's own account of each run (docs/record-contract.md, `sync_manifest`).
sync_manifest = sa.Table(
    "loyalty_sync_manifest",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("tap_run_id", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("part", sa.String(32), primary_key=True),
    sa.Column("selection", sa.Text, nullable=False),
    sa.Column("window_start", UTCDateTime),
    sa.Column("window_end", UTCDateTime),
    sa.Column("shopify_count_before", sa.BigInteger, nullable=False),
    sa.Column("shopify_count_after", sa.BigInteger, nullable=False),
    sa.Column("emitted", sa.BigInteger, nullable=False),
    sa.Column("excluded", sa.Text, nullable=False),  # JSON object: reason -> count
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("target_run_id", sa.String(36), nullable=False, index=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

# Per target run, shop and stream: received, applied, quarantined, skipped:<reason>, and
# at close the manifest's emitted / shopify_count_before / shopify_count_after.
run_counts = sa.Table(
    "loyalty_run_counts",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("measure", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

run_checks = sa.Table(
    "loyalty_run_checks",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

# Input lines that were not valid Singer messages (target_runtime's ResilientSingerReader).
dead_letters = sa.Table(
    "loyalty_dead_letters",
    metadata,
    sa.Column(
        "dead_letter_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    ),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("line_number", sa.BigInteger, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("truncated", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

# The last roster version applied per shop: an older one is stale and never applied.
roster_versions = sa.Table(
    "loyalty_roster_versions",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(36), nullable=False),
)

# Customers whose books changed since the last close: closing recomputes exactly these (and
# those the moved clock changed). Written in each batch's transaction, so a run killed
# before closing leaves them for the next close.
recompute_queue = sa.Table(
    "loyalty_recompute_queue",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
)

# The clock and rules of each shop's last close: every account equals a full recompute at
# ``as_of`` under the rules fingerprinted by ``rules_digest``.
books_clock = sa.Table(
    "loyalty_books_clock",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("as_of", UTCDateTime, nullable=False),
    sa.Column("rules_digest", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=False),
)

# One row per privacy request applied (the audit): never the request's email or phone.
privacy_requests = sa.Table(
    "loyalty_privacy_requests",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("customer_id", sa.BigInteger),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),  # JSON object: table -> rows changed
    sa.Column("export_path", sa.Text),
    sa.Column("run_id", sa.String(36), nullable=False),
)

# Customers whose personal data was redacted: a later customers record for one of them is
# stored already redacted ("redaction wins over re-sync").
redacted_customers = sa.Table(
    "loyalty_redacted_customers",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("request_id", sa.String(255), nullable=False),
)

# Shops whose data was redacted whole (shop/redact): every later customer is stored redacted.
redacted_shops = sa.Table(
    "loyalty_redacted_shops",
    metadata,
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False),
)
