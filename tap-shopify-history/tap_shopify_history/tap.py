"""``TapShopifyHistory``: customers, orders and the customer roster of one Shopify store."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from functools import cached_property
from types import FrameType

from shopify_webhooks.exceptions import QueueNotFoundError
from singer_sdk import Stream
from singer_sdk import typing as th
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tap_shopify_history import settings, webhook_queue
from tap_shopify_history.exceptions import WebhookQueueError
from tap_shopify_history.manifest import Manifest
from tap_shopify_history.record_lines import RecordLineWriter
from tap_shopify_history.sdk_seam import SeamTap
from tap_shopify_history.session import ShopifySession
from tap_shopify_history.streams import STREAM_TYPES, OrdersStream
from tap_shopify_history.webhook_queue import QueueRead

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "shop",
        th.StringType,
        description=(
            "Store handle (`demo-store` of `demo-store.myshopify.com`). Either this or `store_url`."
        ),
    ),
    th.Property(
        "store_url",
        th.StringType,
        description=(
            "The store's base URL; default `https://{shop}.myshopify.com`. The "
            "GraphQL endpoint is `{store_url}/admin/api/{api_version}/graphql.json`, "
            "so this can point at a proxy or the emulator."
        ),
    ),
    th.Property(
        "access_token",
        th.StringType,
        required=True,
        secret=True,
        description="Admin API access token (`shpat_...`). Never logged or stored in state.",
    ),
    th.Property(
        "api_version",
        th.StringType,
        default=settings.DEFAULT_API_VERSION,
        description="Admin API version (`YYYY-MM`), a supported stable version.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description=(
            "Oldest `updated_at` read on the first run, for customers and orders (overrides "
            "`sync_range`)."
        ),
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Exclusive upper bound of `updated_at` to read (default: up to now).",
    ),
    th.Property(
        "sync_range",
        th.StringType,
        default="all_time",
        allowed_values=list(settings.SYNC_RANGES),
        description=(
            "Order history preset used when `start_date` is not set: orders placed "
            "(`created_at`) since the range start; customers and the roster are always read "
            "in full. The range start is fixed at the first run (kept in state); later changes "
            "to orders placed before it are counted `outside_sync_range`, not emitted."
        ),
    ),
    th.Property(
        "lookback_window_seconds",
        th.IntegerType,
        default=60,
        description=(
            "Each run re-reads this many seconds before the bookmark, for Shopify's "
            "search-index lag; versions already emitted are not re-emitted."
        ),
    ),
    th.Property(
        "extraction_mode",
        th.StringType,
        default="auto",
        allowed_values=list(settings.EXTRACTION_MODES),
        description=(
            "`auto`: bulk operations for backfills and large catch-ups, paginated "
            "queries for small incremental runs; or force `bulk` / `paginated`."
        ),
    ),
    th.Property(
        "bulk_threshold_records",
        th.IntegerType,
        default=2500,
        description=(
            "In `auto` mode, incremental runs with more changed records than this always "
            "use a bulk operation; below it, the run pages when the pages' cost would wait "
            "on the bucket less than a bulk job takes (see the README's extraction cost)."
        ),
    ),
    th.Property(
        "bulk_window_max_records",
        th.IntegerType,
        default=25000,
        description=(
            "Largest number of records one bulk job covers (they are held in memory to be "
            "sorted); bigger ranges are split into `updated_at` windows sized by count "
            "queries."
        ),
    ),
    th.Property(
        "bulk_max_attempts",
        th.IntegerType,
        default=3,
        description=(
            "Times one window's bulk job is run when its result cannot be used (truncated "
            "file, rows not matching objectCount, FAILED, EXPIRED, a passing ACCESS_DENIED) "
            "before the run fails; an unusable job is dropped from state at once, so a "
            "re-run never resumes it."
        ),
    ),
    th.Property(
        "bulk_max_wait_seconds",
        th.IntegerType,
        default=3600,
        description=(
            "Longest time one window's bulk jobs may take, all attempts included; then the "
            "job is canceled, dropped from state, and the run fails saying so."
        ),
    ),
    th.Property(
        "refund_sweep_days",
        th.IntegerType,
        default=0,
        description=(
            "Shopify can add a refund without moving the order's `updatedAt`; when set, "
            "each incremental run also re-reads orders created in this many days and "
            "emits those whose refunds changed since the last run (0: off)."
        ),
    ),
    th.Property(
        "include_test_orders",
        th.BooleanType,
        default=False,
        description=(
            "Emit test orders too; when off they are read but not emitted, and counted "
            "`test_order` in the `sync_manifest`."
        ),
    ),
    th.Property(
        "metafield_namespaces",
        th.ArrayType(th.StringType),
        default=[],
        description="Customer metafield namespaces to include (opt-in custom data).",
    ),
    th.Property(
        "webhook_queue_url",
        th.StringType,
        secret=True,
        description=(
            "Database URL of the shopify-webhooks queue (`sqlite:///...`, "
            "`postgresql://...`). When set, each run first re-fetches the customers and "
            "orders the queue's webhooks named since the position kept in state, and emits "
            "the `privacy_requests` stream. May carry a password: never logged."
        ),
    ),
    th.Property(
        "webhook_batch_limit",
        th.IntegerType,
        default=webhook_queue.DEFAULT_BATCH_LIMIT,
        description=(
            "Queue rows read per page; a run reads up to 20 pages, the rest waits for the next run."
        ),
    ),
    th.Property(
        "webhook_only",
        th.BooleanType,
        default=False,
        description=(
            "Read only the webhook queue (the near-real-time job): no `updated_at` window, "
            "no roster; the scheduled runs stay the safety net."
        ),
    ),
    th.Property(
        "request_timeout", th.IntegerType, default=60, description="Seconds per HTTP request."
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=5,
        description=(
            "Retries of THROTTLED answers, 5xx, 429 and connection errors (with "
            "exponential backoff) before failing."
        ),
    ),
).to_dict()


class TapShopifyHistory(SeamTap):
    """Singer tap for a Shopify store's customers and order history."""

    name = "tap-shopify-history"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = RecordLineWriter
    _preflight_done = False

    @cached_property
    def session(self) -> ShopifySession:
        """The store session shared by the streams (connects lazily)."""
        return ShopifySession(self.config)

    @cached_property
    def manifest(self) -> Manifest:
        """This run's ``sync_manifest`` (a fresh UUID per tap run)."""
        return Manifest(run_id=str(uuid.uuid4()))

    @cached_property
    def gone_customers(self) -> set[int]:
        """Customers a ``customers/delete`` hint named that the re-fetch found gone."""
        return set()

    @property
    def webhook_only(self) -> bool:
        """Whether this run reads only the webhook queue (setting ``webhook_only``)."""
        return bool(self.config.get("webhook_queue_url")) and bool(self.config.get("webhook_only"))

    @cached_property
    def queue_read(self) -> QueueRead | None:
        """This run's read of the webhook queue (None without ``webhook_queue_url``).

        Read once, by the first stream that asks, after the position kept in STATE.
        """
        url = self.config.get("webhook_queue_url")
        if not url:
            return None
        after = webhook_queue.position_from_state(self.state)
        limit = int(self.config.get("webhook_batch_limit") or webhook_queue.DEFAULT_BATCH_LIMIT)
        try:
            read = webhook_queue.read_queue(str(url), after, limit, self.session.shop_domain)
        except QueueNotFoundError as error:
            msg = f"webhook_queue_url: {error}; is it the receiver's database?"
            raise WebhookQueueError(msg) from None
        except (SQLAlchemyError, ArgumentError, ValueError) as error:
            # The driver's message can quote the URL (and its password): name the type only.
            msg = f"webhook_queue_url: the queue cannot be read ({type(error).__name__})"
            raise WebhookQueueError(msg) from None
        self.logger.info(
            "webhook queue: %d row(s) after position %d: %d customer(s), %d order(s), "
            "%d privacy request(s) for %s%s",
            read.rows,
            after,
            len(read.customer_ids),
            len(read.order_ids),
            len(read.privacy),
            self.session.shop_domain,
            " (more rows wait for the next run)" if read.more else "",
        )
        return read

    def keep_queue_position(self) -> None:
        """Put the queue position into STATE: called once the hinted records are emitted."""
        read = self.queue_read
        if read is None:
            return
        bookmarks = self.state.setdefault("bookmarks", {})
        bookmarks[webhook_queue.STATE_KEY] = {"position": read.position}

    @property
    def streams(self) -> dict[str, Stream]:
        """The streams in contract order: customers, orders, customer_roster, sync_manifest.

        The SDK sorts streams by name (customer_roster first); the contract needs the
        roster after the orders that show merges, and the manifest last.

        Returns:
            Stream name -> stream, in sync order.
        """
        loaded = super().streams
        order = [cls.name for cls in STREAM_TYPES]
        return dict(sorted(loaded.items(), key=lambda item: order.index(item[0])))

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Checkpoint on SIGTERM/SIGINT, then exit ``128 + signal`` (143 for SIGTERM).

        singer-sdk writes the state and exits 0, so an orchestrator would record a stopped
        run as a success; the SDK's hook is the one place to change that.

        Args:
            signum: The signal number.
            frame: The interrupted frame.
        """
        try:
            super().handle_termination(signum, frame)  # writes the state, then exits 0
        except SystemExit:
            pass
        finally:
            sys.stdout.flush()
        self.logger.warning("Stopped by signal %d after checkpointing", signum)
        sys.exit(128 + signum)

    def preflight(self, now: datetime) -> None:
        """Checks that must pass before any stream emits (run once, by the first stream).

        A backfill older than 60 days needs ``read_all_orders``: without it Shopify returns
        a silently short history, so the run fails before emitting anything.

        Args:
            now: The current time.
        """
        if self._preflight_done:
            return
        self._preflight_done = True
        orders = self.streams.get("orders")
        if isinstance(orders, OrdersStream) and orders.selected:
            orders.preflight(now)

    def discover_streams(self) -> list[Stream]:
        """The streams, in sync order: customers, orders, customer_roster.

        Returns:
            The stream instances.
        """
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


if __name__ == "__main__":
    TapShopifyHistory.cli()
