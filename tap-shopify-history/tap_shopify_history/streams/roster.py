"""The ``customer_roster`` stream: every live customer id, FULL_TABLE with ACTIVATE_VERSION."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from singer_sdk.helpers.types import Context

from tap_shopify_history.manifest import WINDOW
from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.extract import (
    PageSizer,
    Window,
    format_time,
    iter_pages,
    run_bulk_window,
)
from tap_shopify_history.shopify.mode import choose_extraction
from tap_shopify_history.shopify.records import roster_record
from tap_shopify_history.streams.base import ShopifyStream
from tap_shopify_history.streams.bulk_windows import BulkWindowStream


class CustomerRosterStream(ShopifyStream):
    """The full set of live customer ids, so targets can see deletions and merges."""

    name = "customer_roster"
    replication_key = None

    @property
    def emit_activate_version_messages(self) -> bool:
        """Always: ACTIVATE_VERSION is how targets learn which customers are gone."""
        return True

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield every live customer id, then close the version.

        Args:
            context: Stream partition.
        """
        if self.tap.webhook_only:  # type: ignore[attr-defined]
            return  # the near-real-time run reads the queue only; the scheduled runs list
        shop = self.session.shop_domain
        client = self.session.client
        if self.sample_limit is not None:
            # A connection test: one small page, no counts, and never ACTIVATE_VERSION (a
            # target would delete every customer the sample left out).
            sizer = PageSizer(cost_per_node=1.0)
            pages = iter_pages(
                client, queries.ROSTER_PAGE, "customers", None, sizer, max_page=self.sample_limit
            )
            nodes = (node for page in pages for node in page)
            for node in itertools.islice(nodes, self.sample_limit):
                yield roster_record(node, shop)
            return
        self._tally = self.tap.manifest.open(  # type: ignore[attr-defined]
            self.name,
            WINDOW,
            selection=None,
            window_start=None,
            window_end=None,
            now=format_time(client.server_now()),
        )
        before = self._count_customers()
        for node in self._nodes():
            yield roster_record(node, shop)
        # Not windowed: a customer created or deleted meanwhile changes the count, and a
        # target then knows this version is not complete.
        after = self._count_customers()
        self._tally.counted(before, after)
        self._tally.finished_at = format_time(client.server_now())
        self.logger.info(
            "%s: finished: %s live customer ids, Shopify counted %s before and %s after",
            self.name,
            f"{self._tally.emitted:,}",
            f"{before:,}",
            f"{after:,}",
        )
        # The version is complete only now: a target deletes what it did not see.
        if self.stream_version is not None:
            self.write_activate_version_message(self.stream_version)

    def _count_customers(self) -> int:
        customers = self.tap.streams["customers"]
        assert isinstance(customers, BulkWindowStream)
        return customers.exact_count(Window(None, None))

    def _nodes(self) -> Iterator[dict[str, Any]]:
        client = self.session.client
        mode = self.config.get("extraction_mode") or "auto"
        use_bulk = mode == "bulk"
        if mode == "auto":
            data = client.execute(queries.CUSTOMERS_COUNT, {"query": None}, estimated_cost=2)
            count = int((data.get("customersCount") or {}).get("count") or 0)
            use_bulk = count > int(self.config.get("bulk_threshold_records") or 2500) * 4
            status = client.limiter.status
            if not use_bulk and status is not None:
                # As the other streams choose: pages (a point an id) unless they would wait
                # on the bucket longer than a bulk job takes (which spends no points).
                choice = choose_extraction(
                    count,
                    queries.ROSTER_POINTS_PER_RECORD,
                    status.restore_rate,
                    client.limiter.available() or 0.0,
                )
                use_bulk = choice.use_bulk
                self.logger.info(
                    "%s: %s for %s customer ids: pages would wait %.0fs on the bucket, a bulk "
                    "job takes about %.0fs",
                    self.name,
                    "bulk operation" if use_bulk else "paginated read",
                    f"{count:,}",
                    choice.paged_seconds,
                    choice.bulk_seconds,
                )
        if use_bulk:
            result = run_bulk_window(
                self.session.bulk,
                client,
                queries.ROSTER_BULK,
                {},
                resume_id=None,
                on_submit=lambda _: None,
            )
            yield from result.roots
            return
        sizer = PageSizer(cost_per_node=1.0)
        for page in iter_pages(client, queries.ROSTER_PAGE, "customers", None, sizer):
            yield from page
