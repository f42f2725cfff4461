"""The ``orders`` stream."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.extract import complete_line_items, hydrate_refunds
from tap_shopify_history.shopify.records import order_record
from tap_shopify_history.streams.incremental import IncrementalShopifyStream


class OrdersStream(IncrementalShopifyStream):
    """Orders with line items and refunds, incremental on ``updated_at``."""

    name = "orders"
    entity = "orders"
    count_document = queries.ORDERS_COUNT
    count_field = "ordersCount"
    child_fields: ClassVar[dict[str, str]] = {"LineItem": "lineItems"}
    node_cost_estimate = 250.0

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
        """Map an Order node.

        Args:
            node: The node.
        """
        return order_record(node, self.session.shop_domain)
