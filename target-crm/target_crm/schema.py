"""The CRM store's tables (SQLAlchemy Core), on SQLite and PostgreSQL. See README "Schema"."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact money: NUMERIC on PostgreSQL, decimal text on SQLite (whose NUMERIC is a float)."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Pick the column type per backend."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(20, 4))
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Store Decimal exactly."""
        if value is None:
            return None
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Read back a Decimal."""
        return None if value is None else Decimal(str(value))


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Store UTC."""
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back an aware UTC datetime."""
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shop() -> sa.Column[str]:
    return sa.Column("shop_domain", sa.String(255), primary_key=True)


sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("error", sa.Text),
)

sync_locks = sa.Table(
    "sync_locks",
    metadata,
    _shop(),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
)

run_stats = sa.Table(
    "run_stats",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    _shop(),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("outcome", sa.String(32), primary_key=True),
    sa.Column("reason", sa.String(128), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

shops = sa.Table(
    "shops",
    metadata,
    _shop(),
    sa.Column("cutover_at", UtcDateTime),
    sa.Column("cutover_source", sa.String(32)),
    sa.Column("cutover_run_id", sa.String(64)),
)

contacts = sa.Table(
    "contacts",
    metadata,
    _shop(),
    sa.Column("customer_id", sa.BigInteger, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("merged_into", sa.BigInteger),
    sa.Column("email", sa.String(320)),
    sa.Column("email_normalized", sa.String(320), index=True),
    sa.Column("phone", sa.String(64)),
    sa.Column("phone_normalized", sa.String(64), index=True),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("city", sa.String(255)),
    sa.Column("province", sa.String(255)),
    sa.Column("country", sa.String(255)),
    sa.Column("accepts_email_marketing", sa.Boolean, nullable=False),
    sa.Column("accepts_sms_marketing", sa.Boolean, nullable=False),
    sa.Column("email_consent_state", sa.String(32)),
    sa.Column("email_consent_opt_in_level", sa.String(32)),
    sa.Column("email_consent_updated_at", UtcDateTime),
    sa.Column("sms_consent_state", sa.String(32)),
    sa.Column("sms_consent_opt_in_level", sa.String(32)),
    sa.Column("sms_consent_updated_at", UtcDateTime),
    sa.Column("shopify_order_count", sa.Integer, nullable=False),
    sa.Column("shopify_amount_spent", Money, nullable=False),
    sa.Column("order_count", sa.Integer, nullable=False, default=0),
    sa.Column("lifetime_value", Money, nullable=False, default=Decimal(0)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("shopify_updated_at", UtcDateTime, nullable=False),
    sa.Column("created_in_store_at", UtcDateTime, nullable=False),
    sa.Column("updated_in_store_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime),
    sa.Column("created_run_id", sa.String(64)),
)

orders = sa.Table(
    "orders",
    metadata,
    _shop(),
    sa.Column("order_id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.BigInteger),
    sa.Column("contact_customer_id", sa.BigInteger, index=True),
    sa.Column("previous_customer_id", sa.BigInteger, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("cancelled", sa.Boolean, nullable=False),
    sa.Column("refund_ids", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("counts_as_order", sa.Boolean, nullable=False),
    sa.Column("net_value", Money, nullable=False),
    sa.Column("total_price", Money, nullable=False),
    sa.Column("total_refunded", Money, nullable=False),
    sa.Column("currency_code", sa.String(8), nullable=False),
    sa.Column("financial_status", sa.String(32)),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(400), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("source_customer_id", sa.BigInteger, nullable=False),
    sa.Column("order_id", sa.BigInteger),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("source_time", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("triggers_automations", sa.Boolean, nullable=False),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Index("ix_events_contact", "shop_domain", "customer_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(16), primary_key=True),
    sa.Column("entity_key", sa.String(400), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("enqueued_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    # Delivery (target_crm.delivery): the request that carried the row, the run that sent
    # it, and the hash of the payload last sent (an unchanged contact is not sent again).
    sa.Column("request_id", sa.String(64)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("sent_hash", sa.String(64)),
    sa.Index("ix_outbox_pending", "destination", "status"),
    # finish_request moves a request's rows by request id.
    sa.Index("ix_outbox_request", "request_id"),
)

delivery_requests = sa.Table(
    "delivery_requests",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("lost_answers", sa.Integer, nullable=False, default=0),
    sa.Column("answer", sa.Text),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
)

# The platform user id each contact was last sent under, per destination. MoEngage keys a
# user by the `identifier` (an email, say): when it changes, the old user is left behind,
# so the change is recorded here and, with merging on, a merge of the old into the new one
# is scheduled (delivery_merges).
delivery_identities = sa.Table(
    "delivery_identities",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("shop_domain", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True),
    sa.Column("platform_user_id", sa.String(400), nullable=False),
    sa.Column("first_sent_at", UtcDateTime, nullable=False),
    sa.Column("previous_user_id", sa.String(400)),
    sa.Column("changed_at", UtcDateTime),
    sa.Column("changed_run_id", sa.String(64)),
)

# A merge of a left-behind platform user into the contact's current one. Its outbox row
# (entity `merge`, key `merge_key`) waits `scheduled` until `due_at`.
delivery_merges = sa.Table(
    "delivery_merges",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("merge_key", sa.String(400), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("merged_user", sa.String(400), nullable=False),
    sa.Column("retained_user", sa.String(400), nullable=False),
    sa.Column("scheduled_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
)

# An erasure forwarded to a platform after a redaction (MoEngage's Delete User, Ometria's
# data-deletion request). `identity_value` is the platform's user id or email, the one copy
# of it kept after the redaction: it is needed to make the request, and set to NULL the
# moment the platform accepted it.
delivery_erasures = sa.Table(
    "delivery_erasures",
    metadata,
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("erasure_key", sa.String(400), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("identity_value", sa.String(400)),
    sa.Column("queued_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("platform_reference", sa.String(255)),
)

delivery_feedback = sa.Table(
    "delivery_feedback",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("seen_at", UtcDateTime, nullable=False),
)

consent_audit = sa.Table(
    "consent_audit",
    metadata,
    sa.Column("audit_id", sa.String(400), primary_key=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("previous_state", sa.String(32)),
    sa.Column("new_state", sa.String(32), nullable=False),
    sa.Column("consent_updated_at", UtcDateTime),
    sa.Column("decision", sa.String(64), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)

duplicates = sa.Table(
    "duplicates",
    metadata,
    _shop(),
    sa.Column("customer_id", sa.BigInteger, primary_key=True),
    sa.Column("matched_customer_id", sa.BigInteger, primary_key=True),
    sa.Column("rule", sa.String(16), nullable=False),
    sa.Column("policy", sa.String(16), nullable=False),
    sa.Column("detected_at", UtcDateTime, nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(400), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("quarantined_at", UtcDateTime, nullable=False),
)

skipped_records = sa.Table(
    "skipped_records",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("record_key", sa.String(400), primary_key=True),
    sa.Column("reason", sa.String(128), primary_key=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
)

roster_seen = sa.Table(
    "roster_seen",
    metadata,
    _shop(),
    sa.Column("customer_id", sa.BigInteger, primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
)

sync_manifest = sa.Table(
    "crm_sync_manifest",
    metadata,
    sa.Column("target_run_id", sa.String(64), primary_key=True),
    _shop(),
    sa.Column("tap_run_id", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("part", sa.String(32), primary_key=True),
    sa.Column("selection", sa.Text, nullable=False),
    sa.Column("window_start", UtcDateTime),
    sa.Column("window_end", UtcDateTime),
    sa.Column("shopify_count_before", sa.BigInteger, nullable=False),
    sa.Column("shopify_count_after", sa.BigInteger, nullable=False),
    sa.Column("emitted", sa.BigInteger, nullable=False),
    sa.Column("excluded", sa.JSON, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

run_shops = sa.Table(
    "crm_run_shops",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    _shop(),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=False),
)

run_checks = sa.Table(
    "crm_run_checks",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    _shop(),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("part", sa.String(32), primary_key=True),
    sa.Column("check_name", sa.String(128), primary_key=True),
    sa.Column("expected", sa.BigInteger, nullable=False),
    sa.Column("actual", sa.BigInteger, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

dead_letters = sa.Table(
    "crm_dead_letters",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("line_number", sa.BigInteger, primary_key=True),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("truncated", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
)

roster_versions = sa.Table(
    "crm_roster_versions",
    metadata,
    _shop(),
    sa.Column("version", sa.BigInteger),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)
