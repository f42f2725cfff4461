"""Which topics the receiver understands, and the resource each delivery is about.

A delivery is either ``received`` (a known topic whose resource id was found: the tap will
re-fetch that customer or order, or the targets will honour that privacy request) or
``ignored`` with the reason (an unknown topic, a body that is not a JSON object, a payload
without the id its topic promises). Both are stored: nothing a signed delivery says is
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shopify_webhooks.domain.ids import decode_body, parse_id
from shopify_webhooks.domain.privacy import privacy_request_from_payload


class ResourceKind(StrEnum):
    """What a delivery's resource id identifies."""

    CUSTOMER = "customer"
    ORDER = "order"
    SHOP = "shop"


class State(StrEnum):
    """The state of a stored delivery (a duplicate is counted on the original, not stored)."""

    RECEIVED = "received"
    IGNORED = "ignored"


@dataclass(frozen=True)
class TopicRule:
    """Where a topic's payload keeps the id of the resource it is about.

    ``path`` is the key path to the id inside the JSON body; ``gid_path`` is the
    ``admin_graphql_api_id`` fallback (``gid://shopify/Customer/123``) where the topic has one.
    """

    topic: str
    kind: ResourceKind
    path: tuple[str, ...]
    gid_path: tuple[str, ...] | None = None
    compliance: bool = False


_GID = ("admin_graphql_api_id",)

TOPIC_RULES: dict[str, TopicRule] = {
    rule.topic: rule
    for rule in (
        TopicRule("customers/create", ResourceKind.CUSTOMER, ("id",), _GID),
        TopicRule("customers/update", ResourceKind.CUSTOMER, ("id",), _GID),
        TopicRule("customers/delete", ResourceKind.CUSTOMER, ("id",), _GID),
        TopicRule("orders/create", ResourceKind.ORDER, ("id",), _GID),
        TopicRule("orders/updated", ResourceKind.ORDER, ("id",), _GID),
        TopicRule("orders/cancelled", ResourceKind.ORDER, ("id",), _GID),
        # A refund changes its order: the hint is the order to re-fetch, not the refund.
        TopicRule("refunds/create", ResourceKind.ORDER, ("order_id",)),
        TopicRule(
            "customers/data_request", ResourceKind.CUSTOMER, ("customer", "id"), compliance=True
        ),
        TopicRule("customers/redact", ResourceKind.CUSTOMER, ("customer", "id"), compliance=True),
        TopicRule("shop/redact", ResourceKind.SHOP, ("shop_id",), compliance=True),
    )
}

COMPLIANCE_TOPICS = frozenset(t for t, rule in TOPIC_RULES.items() if rule.compliance)


@dataclass(frozen=True)
class Classification:
    """What the receiver makes of one signed delivery."""

    state: State
    kind: ResourceKind | None = None
    resource_id: int | None = None
    reason: str | None = None


def _dig(payload: Any, path: tuple[str, ...]) -> Any:
    value = payload
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def classify(topic: str, shop_domain: str, body: bytes) -> Classification:
    """Classify a signed delivery by its topic and payload.

    Example:
        >>> classify("refunds/create", "s.myshopify.com", b'{"id": 9, "order_id": 42}')
        Classification(state=<State.RECEIVED: 'received'>, kind=<ResourceKind.ORDER: 'order'>, \
resource_id=42, reason=None)
    """
    rule = TOPIC_RULES.get(topic)
    if rule is None:
        return Classification(State.IGNORED, reason=f"unknown topic {topic!r}")
    if not shop_domain:
        return Classification(State.IGNORED, reason="no X-Shopify-Shop-Domain header")
    payload = decode_body(body)
    if payload is None:
        return Classification(State.IGNORED, reason="body is not a JSON object")
    if rule.compliance:
        return _classify_privacy_request(rule, shop_domain, payload)
    resource_id = parse_id(_dig(payload, rule.path))
    if resource_id is None and rule.gid_path is not None:
        resource_id = parse_id(_dig(payload, rule.gid_path))
    if resource_id is None:
        where = ".".join(rule.path)
        return Classification(State.IGNORED, rule.kind, reason=f"no {rule.kind} id at {where}")
    return Classification(State.RECEIVED, rule.kind, resource_id)


def _classify_privacy_request(
    rule: TopicRule, shop_domain: str, payload: dict[str, Any]
) -> Classification:
    # A privacy request is honoured on whatever identifies the customer (a local request
    # may know only an email); shop/redact names the shop by its domain alone.
    # Shopify signs the body, not the headers: a compliance body naming another shop than
    # the header is not honoured for either (a redaction must never land on the wrong shop).
    named = payload.get("shop_domain")
    if isinstance(named, str) and named.strip().lower() != shop_domain:
        reason = f"the body names shop {named!r}, the header {shop_domain!r}"
        return Classification(State.IGNORED, rule.kind, reason=reason)
    request = privacy_request_from_payload(rule.topic, shop_domain, payload)
    assert request is not None  # every compliance rule is a PrivacyKind
    resource_id = request.shop_id if rule.kind is ResourceKind.SHOP else request.customer_id
    problems = request.problems()
    if problems:
        return Classification(State.IGNORED, rule.kind, resource_id, "; ".join(problems))
    return Classification(State.RECEIVED, rule.kind, resource_id)
