"""One sample payload per topic, in Shopify's REST shape, with the id each one names.

For tests, the benchmark and anything that sends deliveries to a receiver. The compliance
samples are the ones in Shopify's privacy documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopify_webhooks.domain.topics import ResourceKind

SHOP = "s.myshopify.com"


@dataclass(frozen=True)
class TopicSample:
    """A topic's sample body and the resource the receiver must find in it."""

    topic: str
    payload: dict[str, Any]
    kind: ResourceKind
    resource_id: int


_SAMPLES: list[tuple[str, dict[str, Any], ResourceKind, int]] = [
    ("customers/create", {"id": 101, "email": "a@example.com"}, ResourceKind.CUSTOMER, 101),
    ("customers/update", {"id": 102, "updated_at": "2026-01-01"}, ResourceKind.CUSTOMER, 102),
    (
        "customers/delete",
        {"id": 103, "tax_exemptions": [], "admin_graphql_api_id": "gid://shopify/Customer/103"},
        ResourceKind.CUSTOMER,
        103,
    ),
    ("orders/create", {"id": 201, "customer": {"id": 9}}, ResourceKind.ORDER, 201),
    ("orders/updated", {"id": 202, "line_items": []}, ResourceKind.ORDER, 202),
    ("orders/cancelled", {"id": 203, "cancel_reason": "customer"}, ResourceKind.ORDER, 203),
    ("refunds/create", {"id": 9001, "order_id": 204}, ResourceKind.ORDER, 204),
    (
        "customers/data_request",
        {
            "shop_id": 954889,
            "shop_domain": SHOP,
            "orders_requested": [299938],
            "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
            "data_request": {"id": 9999},
        },
        ResourceKind.CUSTOMER,
        191167,
    ),
    (
        "customers/redact",
        {
            "shop_id": 954889,
            "shop_domain": SHOP,
            "customer": {"id": 191168, "email": "john@example.com", "phone": "555-625-1199"},
            "orders_to_redact": [299938, 280263],
        },
        ResourceKind.CUSTOMER,
        191168,
    ),
    ("shop/redact", {"shop_id": 954889, "shop_domain": SHOP}, ResourceKind.SHOP, 954889),
]

TOPIC_SAMPLES: tuple[TopicSample, ...] = tuple(TopicSample(*sample) for sample in _SAMPLES)
