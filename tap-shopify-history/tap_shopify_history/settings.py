"""Resolving the tap's settings: endpoint, history window, extraction mode (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tap_shopify_history.shopify.client import graphql_endpoint
from tap_shopify_history.shopify.extract import format_time, parse_time

DEFAULT_API_VERSION = "2026-01"
SYNC_RANGES: dict[str, int | None] = {
    "last_30_days": 30,
    "last_90_days": 90,
    "last_year": 365,
    "last_2_years": 730,
    "all_time": None,
}
EXTRACTION_MODES = ("auto", "bulk", "paginated")
ALL_ORDERS_SCOPE_DAYS = 60


class SettingsError(ValueError):
    """A setting is missing or invalid (the message names it)."""


def store_url(config: Mapping[str, Any]) -> str:
    """The store's base URL: ``store_url``, else ``https://{shop}.myshopify.com``.

    Args:
        config: The tap config.

    Returns:
        The base URL.
    """
    if config.get("store_url"):
        return str(config["store_url"]).rstrip("/")
    shop = str(config.get("shop") or "").strip()
    if not shop:
        msg = "set either `shop` (the store handle) or `store_url`"
        raise SettingsError(msg)
    handle = shop.removesuffix(".myshopify.com")
    return f"https://{handle}.myshopify.com"


def endpoint(config: Mapping[str, Any]) -> str:
    """The GraphQL endpoint the tap talks to.

    Args:
        config: The tap config.

    Returns:
        ``{store_url}/admin/api/{api_version}/graphql.json``.
    """
    return graphql_endpoint(store_url(config), api_version(config))


def api_version(config: Mapping[str, Any]) -> str:
    """The Admin API version.

    Args:
        config: The tap config.

    Returns:
        ``YYYY-MM``.
    """
    return str(config.get("api_version") or DEFAULT_API_VERSION)


def first_read_start(config: Mapping[str, Any]) -> str | None:
    """The oldest ``updated_at`` a first run reads, for every stream (None: all time).

    ``start_date`` only; a ``sync_range`` preset limits orders by when they were placed
    (see :func:`range_start`), never the customers.

    Args:
        config: The tap config.

    Returns:
        An ISO time or None.
    """
    if config.get("start_date"):
        return format_time(parse_time(str(config["start_date"])))
    return None


def range_start(config: Mapping[str, Any], now: datetime) -> str | None:
    """The preset's range start: orders placed (``created_at``) before it are left out.

    Fixed at the first run (the orders stream keeps it in state), so an order booked once
    never falls out of the range. None when ``start_date`` is set or for ``all_time``.

    Args:
        config: The tap config.
        now: Shopify's current time.

    Returns:
        An ISO time or None.
    """
    preset = config.get("sync_range") or "all_time"
    if preset not in SYNC_RANGES:
        msg = f"`sync_range` must be one of {', '.join(SYNC_RANGES)}, got {preset!r}"
        raise SettingsError(msg)
    days = SYNC_RANGES[preset]
    if config.get("start_date") or days is None:
        return None
    return format_time(now - timedelta(days=days))


def history_end(config: Mapping[str, Any]) -> str | None:
    """The exclusive upper bound of ``updated_at`` (None: up to now).

    Args:
        config: The tap config.

    Returns:
        An ISO time or None.
    """
    return format_time(parse_time(str(config["end_date"]))) if config.get("end_date") else None


def needs_all_orders_scope(start: str | None, now: datetime) -> bool:
    """Whether a backfill from ``start`` reaches beyond the 60 days ``read_orders`` allows.

    Args:
        start: The first ``updated_at`` to read, None for all time.
        now: The current time.

    Returns:
        True when ``read_all_orders`` is required.
    """
    return start is None or parse_time(start) < now - timedelta(days=ALL_ORDERS_SCOPE_DAYS)


def group_objects_for(version: str) -> bool | None:
    """``groupObjects`` to send: True from 2025-07 (where it exists), else None (omit).

    Args:
        version: The API version.

    Returns:
        True or None.
    """
    return True if version >= "2025-07" else None


def bulk_concurrency_for(version: str) -> int:
    """Bulk query jobs one app may run at once: 5 from API 2026-01, 1 before.

    Args:
        version: The API version.

    Returns:
        The number of concurrent bulk queries.
    """
    return 5 if version >= "2026-01" else 1
