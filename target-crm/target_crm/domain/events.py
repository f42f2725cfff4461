"""Event derivation: deterministic ids, silent backfill, retention window (seeds 000, 001)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from target_crm.domain.models import CrmRules, Event

ORDER_PLACED = "order_placed"
ORDER_UPDATED = "order_updated"
ORDER_CANCELLED = "order_cancelled"
ORDER_REFUNDED = "order_refunded"
CONTACT_CREATED = "contact_created"
CONTACT_UPDATED = "contact_updated"
CONTACT_DELETED = "contact_deleted"
CONTACT_MERGED = "contact_merged"

_FIXED_NAMES = {
    ORDER_UPDATED: "Order Updated",
    ORDER_CANCELLED: "Order Cancelled",
    ORDER_REFUNDED: "Order Refunded",
    CONTACT_CREATED: "contact.created",
    CONTACT_UPDATED: "contact.updated",
    CONTACT_DELETED: "contact.deleted",
    CONTACT_MERGED: "contact.merged",
}


def event_name(kind: str, rules: CrmRules) -> str:
    """The display name of an event kind, from the settings.

    Args:
        kind: The event kind (``order_placed``...).
        rules: The settings (``order_placed_event_name``, ``event_name_prefix``).

    Returns:
        The name; order events carry the configured prefix (``"Shopify - "``).
    """
    if kind == ORDER_PLACED:
        return rules.order_placed_event_name
    name = _FIXED_NAMES[kind]
    return rules.event_name_prefix + name if kind.startswith("order_") else name


def event_id(kind: str, shop_domain: str, *parts: object) -> str:
    """A deterministic event id: re-running any range never makes a second copy.

    Args:
        kind: The event kind.
        shop_domain: The shop; every key includes it.
        *parts: What makes the event unique within the shop (order id, refund id...).

    Returns:
        ``<kind>:<shop>:<part>[:<part>...]``, e.g. ``order_placed:demo.myshopify.com:1001``.
    """
    tail = ":".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return f"{kind}:{shop_domain}:{tail}"


def triggers_automations(source_time: datetime, cutover: datetime | None) -> bool:
    """Silent backfill: only changes after the initial sync's cut-over trigger automations.

    Args:
        source_time: When the change happened in Shopify.
        cutover: The recorded cut-over point of the shop; None while the initial sync runs.

    Returns:
        True when the change is newer than the cut-over.
    """
    return cutover is not None and source_time > cutover


def within_retention(occurred_at: datetime, now: datetime, retention_days: int | None) -> bool:
    """Whether an event is inside the retention window (seed 000), so it may be stored.

    Args:
        occurred_at: The event time.
        now: The store's clock.
        retention_days: The window; None keeps everything.

    Returns:
        True when the event is kept.
    """
    if retention_days is None:
        return True
    return occurred_at >= now - timedelta(days=retention_days)


def make_event(
    *,
    kind: str,
    key: tuple[object, ...],
    shop_domain: str,
    customer_id: int,
    source_customer_id: int,
    occurred_at: datetime,
    source_time: datetime,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
    order_id: int | None = None,
    properties: Mapping[str, object] | None = None,
) -> Event:
    """Build an event with its deterministic id, name and automation flag.

    Args:
        kind: The event kind.
        key: The parts that make it unique within the shop.
        shop_domain: The shop.
        customer_id: The contact the event belongs to.
        source_customer_id: The Shopify customer the source record named.
        occurred_at: The event time shown to users.
        source_time: When the change happened in Shopify (decides the automation flag).
        rules: The settings.
        now: The store's clock (``recorded_at``).
        cutover: The shop's cut-over point.
        order_id: The order, for order events.
        properties: The event attributes.

    Returns:
        The event.
    """
    return Event(
        event_id=event_id(kind, shop_domain, *key),
        shop_domain=shop_domain,
        kind=kind,
        name=event_name(kind, rules),
        customer_id=customer_id,
        source_customer_id=source_customer_id,
        occurred_at=occurred_at,
        source_time=source_time,
        recorded_at=now,
        triggers_automations=triggers_automations(source_time, cutover),
        order_id=order_id,
        properties=dict(properties or {}),
    )
