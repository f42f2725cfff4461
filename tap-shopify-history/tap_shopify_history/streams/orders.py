"""The ``orders`` stream."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    complete_line_items,
    format_time,
    iter_pages,
)
from tap_shopify_history.shopify.ids import gid_to_id
from tap_shopify_history.shopify.records import order_record
from tap_shopify_history.shopify.refunds import hydrate_refunds
from tap_shopify_history.streams.incremental import IncrementalShopifyStream


class OrdersStream(IncrementalShopifyStream):
    """Orders with line items and refunds, incremental on ``updated_at``."""

    name = "orders"
    entity = "orders"
    count_document = queries.ORDERS_COUNT
    count_field = "ordersCount"
    child_fields: ClassVar[dict[str, str]] = {"LineItem": "lineItems"}
    node_cost_estimate = 250.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the refund sweep's bookkeeping."""
        super().__init__(*args, **kwargs)
        self._refund_latest: dict[int, str] = {}
        self._emitted_now: set[int] = set()

    def search_terms(self) -> tuple[str, ...]:
        """Leave test orders out at the source unless they are wanted."""
        return () if self.config.get("include_test_orders") else ("test:false",)

    def page_document(self) -> str:
        """The paginated orders query."""
        return queries.orders_page_query()

    def bulk_query(self, search: str | None) -> str:
        """The bulk orders query.

        Args:
            search: The window's search filter.
        """
        return queries.orders_bulk_query(search)

    def preflight(self, now: dt.datetime) -> None:
        """Fail before a long backfill if ``read_all_orders`` is missing.

        Args:
            now: The current time.
        """
        self.session.require_all_orders(self.start_for(self.stream_state, now), now)

    def complete_nodes(self, nodes: list[dict[str, Any]], *, bulk: bool) -> None:
        """Fetch line items beyond the first page, or refund lines after a bulk read.

        Args:
            nodes: Order nodes.
            bulk: Whether they come from a bulk result.
        """
        if bulk:
            hydrate_refunds(self.session.client, nodes)
            return
        for node in nodes:
            complete_line_items(self.session.client, node)
        hydrate_refunds(self.session.client, nodes, only_cut=True)

    def to_record(self, node: dict[str, Any]) -> dict[str, Any]:
        """Map an Order node (remembering its latest refund change for the sweep).

        Args:
            node: The node.
        """
        latest = max((r.get("updatedAt") or "" for r in node.get("refunds") or []), default="")
        record = order_record(node, self.session.shop_domain)
        self._refund_latest[record["id"]] = latest
        return record

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        super()._increment_stream_state(latest_record, context=context)
        # The refund version the target now has, so the sweep re-emits only real changes.
        latest = self._refund_latest.pop(latest_record["id"], "")
        if latest and self._sweep_days() > 0:
            marks = self.get_context_state(context).setdefault("refund_marks", {})
            marks[str(latest_record["id"])] = [latest_record["created_at"], latest]
        self._emitted_now.add(latest_record["id"])

    def _sweep_days(self) -> int:
        return self._config_int("refund_sweep_days", 0)

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Changed orders, then (opt-in) orders whose refunds changed without them.

        Args:
            context: Stream partition.

        Yields:
            Records.
        """
        state = self.get_context_state(context)
        incremental = bool(state.get("replication_key_value"))
        yield from super().read(context)
        days = self._sweep_days()
        if incremental and days > 0:
            now = dt.datetime.now(dt.UTC)
            created_from = format_time(now - dt.timedelta(days=days))
            marks = state.setdefault("refund_marks", {})
            # Orders older than the sweep window are never looked at again.
            state["refund_marks"] = {k: v for k, v in marks.items() if v[0] >= created_from}
            yield from self._sweep_refunds(state["refund_marks"], created_from)

    def _sweep_refunds(
        self, marks: dict[str, list[str]], created_from: str
    ) -> Iterator[dict[str, Any]]:
        # Shopify can add or edit a refund without moving the order's updatedAt, so the
        # incremental read misses it; re-read recent orders and emit those whose latest
        # refund change is not the one last emitted.
        self.logger.info("orders: refund sweep of orders created since %s", created_from)
        terms = (*self.search_terms(), f"created_at:>='{created_from}'")
        search = Window(None, None).search(terms)
        sizer = PageSizer(cost_per_node=self.node_cost_estimate)
        client = self.session.client
        for nodes in iter_pages(client, self.page_document(), "orders", search, sizer):
            changed = [n for n in nodes if self._refunds_changed(n, marks)]
            self.complete_nodes(changed, bulk=False)
            for node in changed:
                yield self.to_record(node)

    def _refunds_changed(self, node: dict[str, Any], marks: dict[str, list[str]]) -> bool:
        latest = max((r.get("updatedAt") or "" for r in node.get("refunds") or []), default="")
        order_id = str(gid_to_id(node["id"]))
        if not latest or int(order_id) in self._emitted_now:
            return False
        return marks.get(order_id, ["", ""])[1] != latest
