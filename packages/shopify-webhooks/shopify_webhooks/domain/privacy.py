"""Privacy requests: Shopify's three compliance payloads, read and (for local requests) built.

A store whose app does not receive the compliance topics (an admin-created custom app) can
still be asked by a customer to be forgotten; the command line then writes the very payload
Shopify would have sent, so everything downstream reads one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shopify_webhooks.domain.ids import parse_id


class PrivacyKind(StrEnum):
    """The compliance topic a request travels as."""

    REDACT = "customers/redact"
    DATA_REQUEST = "customers/data_request"
    SHOP_REDACT = "shop/redact"


@dataclass(frozen=True)
class PrivacyRequest:
    """One privacy request, from a webhook or from the command line.

    Attributes:
        kind: which compliance topic.
        shop_domain: the shop the request is about.
        shop_id: Shopify's numeric shop id, when known.
        customer_id: the customer, when known (a local request may name only an email).
        email: the customer's email as the request gives it.
        phone: the customer's phone as the request gives it.
        orders: the orders to redact (redact) or requested (data request).
        data_request_id: Shopify's id of a data request.
    """

    kind: PrivacyKind
    shop_domain: str
    shop_id: int | None = None
    customer_id: int | None = None
    email: str | None = None
    phone: str | None = None
    orders: tuple[int, ...] = field(default=())
    data_request_id: int | None = None

    def problems(self) -> list[str]:
        """Why the request cannot be honoured as it stands (empty when it can)."""
        found: list[str] = []
        if not self.shop_domain:
            found.append("a shop domain is required")
        if self.kind is not PrivacyKind.SHOP_REDACT and not (
            self.customer_id or self.email or self.phone
        ):
            found.append("name the customer: a customer id, an email or a phone")
        return found

    def to_payload(self) -> dict[str, Any]:
        """The body Shopify sends for this compliance topic."""
        payload: dict[str, Any] = {"shop_id": self.shop_id, "shop_domain": self.shop_domain}
        if self.kind is PrivacyKind.SHOP_REDACT:
            return payload
        payload["customer"] = {"id": self.customer_id, "email": self.email, "phone": self.phone}
        if self.kind is PrivacyKind.REDACT:
            payload["orders_to_redact"] = list(self.orders)
        else:
            payload["orders_requested"] = list(self.orders)
            payload["data_request"] = {"id": self.data_request_id}
        return payload


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def privacy_request_from_payload(
    topic: str, shop_domain: str, payload: dict[str, Any]
) -> PrivacyRequest | None:
    """Read a compliance payload; None for any other topic.

    The shop is the one the delivery came from (its header), not what the body claims.
    """
    try:
        kind = PrivacyKind(topic)
    except ValueError:
        return None
    customer = payload.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    order_key = "orders_to_redact" if kind is PrivacyKind.REDACT else "orders_requested"
    raw_orders = payload.get(order_key)
    orders = tuple(
        order_id
        for order_id in (parse_id(v) for v in (raw_orders if isinstance(raw_orders, list) else []))
        if order_id is not None
    )
    data_request = payload.get("data_request")
    return PrivacyRequest(
        kind=kind,
        shop_domain=shop_domain,
        shop_id=parse_id(payload.get("shop_id")),
        customer_id=parse_id(customer.get("id")),
        email=_text(customer.get("email")),
        phone=_text(customer.get("phone")),
        orders=orders,
        data_request_id=parse_id(data_request.get("id"))
        if isinstance(data_request, dict)
        else None,
    )
