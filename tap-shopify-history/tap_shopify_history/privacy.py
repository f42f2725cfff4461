"""``privacy_requests`` records from queue hints (pure; /docs/record-contract.md).

A compliance hint (``customers/redact``, ``customers/data_request``, ``shop/redact``, from
Shopify or the command line) becomes one record; a ``customers/delete`` hint becomes a
``customer_delete`` record only once the re-fetch found the customer gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tap_shopify_history.shopify.extract import format_time

KINDS = {
    "customers/delete": "customer_delete",
    "customers/redact": "customer_redact",
    "shop/redact": "shop_redact",
    "customers/data_request": "data_request",
}
ORIGINS = ("webhook", "local")


@dataclass(frozen=True)
class PrivacyHint:
    """What a privacy record is made of: one queue row, read.

    Attributes:
        position: The queue position of the row.
        shop_domain: The delivering shop.
        topic: The webhook topic.
        origin: ``webhook`` or ``local``.
        webhook_id: ``X-Shopify-Webhook-Id`` (or the local request's id).
        triggered_at: ``X-Shopify-Triggered-At`` as sent.
        received_at: When the receiver committed the row.
        customer_id: The customer, when the request names one.
        email: The request's email.
        phone: The request's phone.
        order_ids: Orders to redact or requested.
        data_request_id: Shopify's id of a data request.
    """

    position: int
    shop_domain: str
    topic: str
    origin: str
    webhook_id: str | None
    triggered_at: str | None
    received_at: datetime | None
    customer_id: int | None = None
    email: str | None = None
    phone: str | None = None
    order_ids: tuple[int, ...] = ()
    data_request_id: int | None = None


def request_id(webhook_id: str | None, position: int) -> str:
    """The record's key: the row's webhook id, else ``queue-<position>``.

    Args:
        webhook_id: The row's ``webhook_id``.
        position: The row's queue position.

    Returns:
        A deterministic id (a replayed page yields the same one).
    """
    return webhook_id if webhook_id else f"queue-{position}"


def requested_at(triggered_at: str | None, received_at: datetime | None) -> str | None:
    """``triggered_at`` when it parses as a time, else ``received_at``; UTC ``Z``.

    Shopify sends nanoseconds (``2026-01-05T10:00:00.123456789Z``); the record keeps whole
    seconds, as every time the tap emits.

    Args:
        triggered_at: ``X-Shopify-Triggered-At`` as sent.
        received_at: When the receiver committed the row.

    Returns:
        An ISO time, or None when neither is known.
    """
    parsed = _parse(triggered_at) if triggered_at else None
    if parsed is None:
        parsed = received_at
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_time(parsed.astimezone(UTC))


def _parse(value: str) -> datetime | None:
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def privacy_record(hint: PrivacyHint) -> dict[str, Any]:
    """The ``privacy_requests`` record of one hint.

    Args:
        hint: The queue row, read.

    Returns:
        The record (every field of the schema).

    Raises:
        ValueError: the topic is not a privacy topic.
    """
    kind = KINDS.get(hint.topic)
    if kind is None:
        msg = (
            f"privacy_requests: queue position {hint.position}: topic {hint.topic!r} "
            "is not a privacy request"
        )
        raise ValueError(msg)
    shop_wide = kind == "shop_redact"
    return {
        "shop_domain": hint.shop_domain.lower(),
        "request_id": request_id(hint.webhook_id, hint.position),
        "kind": kind,
        "customer_id": None if shop_wide else hint.customer_id,
        "email": None if shop_wide else hint.email,
        "phone": None if shop_wide else hint.phone,
        "order_ids": [] if shop_wide else list(hint.order_ids),
        "data_request_id": hint.data_request_id if kind == "data_request" else None,
        "origin": hint.origin if hint.origin in ORIGINS else "webhook",
        "requested_at": requested_at(hint.triggered_at, hint.received_at),
        "queue_position": hint.position,
    }
