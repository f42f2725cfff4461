"""The ``customers`` stream."""

from __future__ import annotations

from typing import Any, ClassVar

from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.records import customer_record
from tap_shopify_history.streams.incremental import IncrementalShopifyStream


class CustomersStream(IncrementalShopifyStream):
    """Customers, incremental on ``updated_at``."""

    name = "customers"
    entity = "customers"
    count_document = queries.CUSTOMERS_COUNT
    count_field = "customersCount"
    child_fields: ClassVar[dict[str, str]] = {"Metafield": "metafields"}
    node_cost_estimate = 8.0
    points_per_record_estimate = 5.0  # address, amount spent, two consents

    @property
    def namespaces(self) -> list[str]:
        """Metafield namespaces to include (opt-in)."""
        return list(self.config.get("metafield_namespaces") or [])

    def page_document(self) -> str:
        """The paginated customers query."""
        return queries.customers_page_query(bool(self.namespaces))

    def bulk_query(self, search: str | None) -> str:
        """The bulk customers query.

        Args:
            search: The window's search filter.
        """
        return queries.customers_bulk_query(search, bool(self.namespaces))

    def lookup(self) -> tuple[str, str]:
        """``customer(id:)`` with the pages' selection."""
        return "customer", queries.customer_selection(bool(self.namespaces))

    def to_record(self, node: dict[str, Any]) -> dict[str, Any]:
        """Map a Customer node.

        Args:
            node: The node.
        """
        return customer_record(node, self.session.shop_domain, self.namespaces)
