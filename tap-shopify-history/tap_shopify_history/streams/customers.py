"""The ``customers`` stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.records import customer_record
from tap_shopify_history.streams.incremental import IncrementalShopifyStream

ROSTER_STREAM = "customer_roster"
#: Said on every run whose catalog leaves the roster out (the hourly jobs), so that no one
#: reads such a run as having checked deletions.
ROSTER_LEFT_TO_DAILY_JOB = (
    "customer_roster is not selected in this run: customers deleted or merged away in "
    "Shopify are not checked now; the roster is left to the daily job "
    "(roster-reconciliation), which applies deletions and merges"
)


class CustomersStream(IncrementalShopifyStream):
    """Customers, incremental on ``updated_at``."""

    name = "customers"
    entity = "customers"
    count_document = queries.CUSTOMERS_COUNT
    count_field = "customersCount"
    child_fields: ClassVar[dict[str, str]] = {"Metafield": "metafields"}
    node_cost_estimate = 8.0
    # The customer, its address, amount spent and two consents (the page query's model).
    points_per_record_estimate = queries.customer_page_points()

    @property
    def namespaces(self) -> list[str]:
        """Metafield namespaces to include (opt-in)."""
        return list(self.config.get("metafield_namespaces") or [])

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Changed customers; first says so when this run leaves the roster out.

        Args:
            context: Stream partition.
        """
        roster = self.tap.streams.get(ROSTER_STREAM)
        webhook_only = self.tap.webhook_only  # type: ignore[attr-defined]
        if roster is not None and not roster.selected and not webhook_only:
            self.logger.info(ROSTER_LEFT_TO_DAILY_JOB)
        yield from super().read(context)

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
