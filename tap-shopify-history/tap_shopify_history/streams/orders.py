"""The ``orders`` stream."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_shopify_history import settings
from tap_shopify_history.manifest import REFUND_SWEEP
from tap_shopify_history.selection import (
    ALREADY_EMITTED,
    REFUNDS_UNCHANGED,
    SelectionRules,
)
from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    complete_line_items,
    format_time,
    iter_pages,
)
from tap_shopify_history.shopify.ids import gid_to_id
from tap_shopify_history.shopify.records import order_record, utc_time
from tap_shopify_history.shopify.refunds import hydrate_refunds
from tap_shopify_history.streams.incremental import IncrementalShopifyStream


class OrdersStream(IncrementalShopifyStream):
    """Orders with line items and refunds, incremental on ``updated_at``."""

    name = "orders"
    entity = "orders"
    count_document = queries.ORDERS_COUNT
    count_field = "ordersCount"
    child_fields: ClassVar[dict[str, str]] = {"LineItem": "lineItems"}
    # A page's requested cost per order (its nested page sizes) and a typical order's
    # actual cost, both from the cost model of the page query; pages learn the real ones.
    node_cost_estimate = queries.order_page_requested_points()
    points_per_record_estimate = queries.typical_order_points()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the refund sweep's bookkeeping."""
        super().__init__(*args, **kwargs)
        self._refund_latest: dict[int, str] = {}
        self._emitted_now: set[int] = set()

    def selection_rules(self) -> SelectionRules:
        """Test orders (unless wanted) and orders placed before the range are left out.

        Test orders are read, not filtered at the source, so the manifest counts them
        (``test_order``) under the same selection as Shopify's count.
        """
        return SelectionRules(
            include_test_orders=bool(self.config.get("include_test_orders")),
            range_start=self.stream_state.get("range_start"),
        )

    def first_start(self, state: dict[str, Any], now: dt.datetime) -> str | None:
        """A first run reads orders changed since ``start_date``, else since the range start.

        An order placed in the range was changed in it too, so reading by ``updated_at``
        from the range start finds every one of them (older orders changed since are read
        and counted ``outside_sync_range``).

        Args:
            state: The stream state.
            now: Shopify's current time.

        Returns:
            An ISO time or None.
        """
        return settings.first_read_start(self.config) or self.fix_range_start(state, now)

    def fix_range_start(self, state: dict[str, Any], now: dt.datetime) -> str | None:
        """The preset's range start, fixed at the first run and kept in state.

        Args:
            state: The stream state.
            now: Shopify's current time.

        Returns:
            An ISO time or None (no range).
        """
        if "range_start" not in state:
            state["range_start"] = settings.range_start(self.config, now)
        return state["range_start"]  # type: ignore[no-any-return]

    def page_document(self) -> str:
        """The paginated orders query."""
        return queries.orders_page_query()

    def bulk_query(self, search: str | None) -> str:
        """The bulk orders query.

        Args:
            search: The window's search filter.
        """
        return queries.orders_bulk_query(search)

    def lookup(self) -> tuple[str, str]:
        """``order(id:)`` with the pages' selection (line items, refunds with lines)."""
        return "order", queries.order_selection()

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

    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        if self._hinting:
            self._refund_latest.pop(latest_record["id"], None)
            return
        super().increment_stream_state(latest_record, context=context)
        # The refund version the target now has, so the sweep re-emits only real changes.
        latest = self._refund_latest.pop(latest_record["id"], "")
        if self._sweep_days() > 0:
            if latest:
                marks = self.get_context_state(context).setdefault("refund_marks", {})
                marks[str(latest_record["id"])] = [latest_record["created_at"], latest]
            # Only the refund sweep asks what this run emitted; without it the set would grow
            # by every order of a backfill for nothing.
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
        self.fix_range_start(state, self.session.client.server_now())
        yield from super().read(context)
        days = self._sweep_days()
        webhook_only = self.tap.webhook_only  # type: ignore[attr-defined]
        if incremental and days > 0 and self.sample_limit is None and not webhook_only:
            now = self.session.client.server_now()
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
        end = self.session.window_end()
        terms = (*self.search_terms(), f"created_at:>='{created_from}'", f"created_at:<'{end}'")
        search = Window(None, None).search(terms)
        tally = self.tap.manifest.open(  # type: ignore[attr-defined]
            self.name,
            REFUND_SWEEP,
            selection=search,
            window_start=None,
            window_end=None,
            now=format_time(self.session.client.server_now()),
        )
        self._tally = tally
        client = self.session.client
        sweep = Window(None, None)
        extra = terms[len(self.search_terms()) :]
        before = self.exact_count(sweep, extra)
        sizer = PageSizer(cost_per_node=self.node_cost_estimate)
        seen: set[int] = set()
        rules = self.selection_rules()
        for nodes in iter_pages(client, self.page_document(), "orders", search, sizer):
            changed = []
            for node in nodes:
                order_id = int(gid_to_id(node["id"]) or 0)
                if order_id in seen:
                    continue
                seen.add(order_id)
                facts = {"test": node.get("test"), "created_at": utc_time(node.get("createdAt"))}
                reason = rules.exclusion(facts) or self._sweep_reason(node, order_id, marks)
                if reason is None:
                    changed.append(node)
                else:
                    tally.exclude(reason)
            self.complete_nodes(changed, bulk=False)
            for node in changed:
                yield self.to_record(node)
        after = self.exact_count(sweep, extra)
        tally.counted(before, after)
        tally.finished_at = format_time(client.server_now())

    def _sweep_reason(
        self, node: dict[str, Any], order_id: int, marks: dict[str, list[str]]
    ) -> str | None:
        if order_id in self._emitted_now:
            return ALREADY_EMITTED  # this run's window read emitted it
        latest = max((r.get("updatedAt") or "" for r in node.get("refunds") or []), default="")
        if not latest or marks.get(str(order_id), ["", ""])[1] == latest:
            return REFUNDS_UNCHANGED
        return None
