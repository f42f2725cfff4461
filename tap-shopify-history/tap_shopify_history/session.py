"""One store's connection, shared by the tap's streams: client, bulk runner, shop facts."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from tap_shopify_history import settings
from tap_shopify_history.shopify.bulk import BulkRunner
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import MissingScopeError
from tap_shopify_history.shopify.extract import format_time
from tap_shopify_history.shopify.queries import SHOP_INFO


class ShopifySession:
    """Lazily connects; nothing is sent until a stream needs it."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Build the client from the tap config.

        Args:
            config: The tap config.
        """
        self._config = config
        self.client = GraphQLClient(
            settings.endpoint(config),
            str(config.get("access_token") or ""),
            timeout=float(config.get("request_timeout") or 60),
            max_retries=int(config.get("max_retries", 5)),
        )
        self.bulk = BulkRunner(
            self.client,
            time.sleep,
            group_objects=settings.group_objects_for(settings.api_version(config)),
        )
        self.bulk_concurrency = settings.bulk_concurrency_for(settings.api_version(config))
        self._run_end: str | None = None
        # Stream name -> actual points per record its pages cost in this run (``auto``).
        self.points_per_record: dict[str, float] = {}

    def window_end(self, end_date: str | None = None) -> str:
        """The exclusive ``updated_at`` end of every window this run reads, fixed once.

        The next whole second of Shopify's clock; the run waits until Shopify's clock has
        passed it, so no later change can enter a window after its count (a change gets a
        newer ``updated_at`` and is read by the next run). ``end_date`` lowers it.

        Args:
            end_date: The ``end_date`` setting, or None.

        Returns:
            An ISO time.
        """
        if self._run_end is None:
            _ = self.shop_domain  # one answer first, so its Date header gives Shopify's clock
            now = self.client.server_now()
            end = now.replace(microsecond=0) + timedelta(seconds=1)
            self.client.sleep((end - now).total_seconds())
            self._run_end = format_time(end)
        return min(self._run_end, end_date) if end_date else self._run_end

    @cached_property
    def _shop_info(self) -> dict[str, Any]:
        return self.client.execute(SHOP_INFO, estimated_cost=3)

    @property
    def shop_domain(self) -> str:
        """The shop's ``myshopifyDomain``, put on every record."""
        return str(self._shop_info["shop"]["myshopifyDomain"])

    @property
    def scopes(self) -> frozenset[str]:
        """The access scopes granted to the token."""
        installation = self._shop_info.get("currentAppInstallation") or {}
        return frozenset(s["handle"] for s in installation.get("accessScopes") or [])

    def require_all_orders(self, start: str | None, now: datetime) -> None:
        """Fail before a backfill older than 60 days if ``read_all_orders`` is missing.

        Args:
            start: The first ``updated_at`` the orders stream will read.
            now: The current time.

        Raises:
            MissingScopeError: Naming the scope and why it is needed.
        """
        if settings.needs_all_orders_scope(start, now) and "read_all_orders" not in self.scopes:
            since = start or "the beginning"
            msg = (
                f"the orders backfill starts at {since}, more than "
                f"{settings.ALL_ORDERS_SCOPE_DAYS} days ago, but the access token lacks the "
                "`read_all_orders` scope, so Shopify would silently return only the last 60 "
                "days. Request `read_all_orders` for the app (Partner Dashboard) or shorten "
                "`start_date`/`sync_range`."
            )
            raise MissingScopeError(msg)
