"""The receiver's rules as tables: signatures, topics and resource ids, privacy payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from shopify_webhooks.domain.ids import parse_id
from shopify_webhooks.domain.privacy import (
    PrivacyKind,
    PrivacyRequest,
    privacy_request_from_payload,
)
from shopify_webhooks.domain.samples import TOPIC_SAMPLES
from shopify_webhooks.domain.signature import is_signed_by, sign
from shopify_webhooks.domain.topics import TOPIC_RULES, ResourceKind, State, classify

SHOP = "s.myshopify.com"


def test_the_samples_cover_every_topic() -> None:
    assert sorted(s.topic for s in TOPIC_SAMPLES) == sorted(TOPIC_RULES)


@pytest.mark.parametrize(
    ("topic", "payload", "kind", "resource_id"),
    [(s.topic, s.payload, s.kind, s.resource_id) for s in TOPIC_SAMPLES],
    ids=[s.topic for s in TOPIC_SAMPLES],
)
def test_each_topic_names_its_resource(
    topic: str, payload: dict[str, object], kind: ResourceKind, resource_id: int
) -> None:
    found = classify(topic, SHOP, json.dumps(payload).encode())
    assert (found.state, found.kind, found.resource_id, found.reason) == (
        State.RECEIVED,
        kind,
        resource_id,
        None,
    )


@pytest.mark.parametrize(
    ("topic", "body", "state", "resource_id", "reason"),
    [
        ("orders/paid", b'{"id": 1}', State.IGNORED, None, "unknown topic 'orders/paid'"),
        ("", b'{"id": 1}', State.IGNORED, None, "unknown topic ''"),
        ("orders/create", b"not json", State.IGNORED, None, "body is not a JSON object"),
        ("orders/create", b"[1, 2]", State.IGNORED, None, "body is not a JSON object"),
        ("orders/create", b"\xff\xfe", State.IGNORED, None, "body is not a JSON object"),
        ("orders/create", b'{"name": "#1"}', State.IGNORED, None, "no order id at id"),
        ("orders/create", b'{"id": true}', State.IGNORED, None, "no order id at id"),
        ("orders/create", b'{"id": -5}', State.IGNORED, None, "no order id at id"),
        ("orders/create", b'{"id": 9223372036854775808}', State.IGNORED, None, "no order id at id"),
        ("orders/create", b'{"id": "77"}', State.RECEIVED, 77, None),
        (
            "customers/update",
            b'{"admin_graphql_api_id": "gid://shopify/Customer/55"}',
            State.RECEIVED,
            55,
            None,
        ),
        ("refunds/create", b'{"id": 3}', State.IGNORED, None, "no order id at order_id"),
        (
            "customers/redact",
            b'{"customer": {"email": "only@example.com"}}',
            State.RECEIVED,
            None,
            None,
        ),
        (
            "customers/redact",
            b'{"customer": {}}',
            State.IGNORED,
            None,
            "name the customer: a customer id, an email or a phone",
        ),
        ("shop/redact", b'{"shop_domain": "s.myshopify.com"}', State.RECEIVED, None, None),
    ],
    ids=[
        "unknown-topic",
        "no-topic",
        "not-json",
        "json-array",
        "not-utf8",
        "no-id",
        "boolean-id",
        "negative-id",
        "id-beyond-bigint",
        "id-as-string",
        "gid-fallback",
        "refund-without-order",
        "redact-by-email-only",
        "redact-naming-no-one",
        "shop-redact-without-id",
    ],
)
def test_classification_edge_cases(
    topic: str, body: bytes, state: State, resource_id: int | None, reason: str | None
) -> None:
    found = classify(topic, SHOP, body)
    assert (found.state, found.resource_id, found.reason) == (state, resource_id, reason)


def test_a_known_topic_without_a_shop_is_ignored() -> None:
    found = classify("orders/create", "", b'{"id": 1}')
    assert (found.state, found.reason) == (State.IGNORED, "no X-Shopify-Shop-Domain header")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        ("gid://shopify/Order/450789469", 450789469),
        ("gid://shopify/Order/12?x=1", 12),
        ("12a", None),
        ("", None),
        (None, None),
        (1.5, None),
        (2**63 - 1, 2**63 - 1),
        ("١٢", None),  # Arabic-Indic digits are digits to str.isdigit, not to Shopify
    ],
)
def test_parse_id(value: object, expected: int | None) -> None:
    assert parse_id(value) == expected


def _reference_signature(body: bytes, secret: str) -> str:
    # Shopify's documented rule, computed independently of the module under test.
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("body", [b"", b"{}", '{"name": "Zoë"}'.encode(), bytes(range(256))])
def test_signature_is_shopifys_rule(body: bytes) -> None:
    assert sign(body, "secret-1") == _reference_signature(body, "secret-1")
    assert is_signed_by(body, _reference_signature(body, "secret-1"), ["secret-1"])


@pytest.mark.parametrize(
    ("header", "secrets", "accepted"),
    [
        (None, ["new"], False),
        ("", ["new"], False),
        ("garbage", ["new"], False),
        ("ünïcode", ["new"], False),
        (_reference_signature(b"{}", "old"), ["new"], False),
        (_reference_signature(b"{}", "old"), ["new", "old"], True),
        (_reference_signature(b"{}", "new"), ["new", "old"], True),
        (_reference_signature(b"{} ", "new"), ["new"], False),
        (" " + _reference_signature(b"{}", "new") + " ", ["new"], True),
        (_reference_signature(b"{}", "new"), [], False),
    ],
    ids=[
        "missing",
        "empty",
        "garbage",
        "non-ascii",
        "other-secret",
        "previous-secret-while-rotating",
        "current-secret-while-rotating",
        "other-body",
        "surrounding-space",
        "no-secret-configured",
    ],
)
def test_signature_check(header: str | None, secrets: list[str], accepted: bool) -> None:
    assert is_signed_by(b"{}", header, secrets) is accepted


@pytest.mark.parametrize(
    "request_",
    [
        PrivacyRequest(
            PrivacyKind.REDACT, SHOP, 5, customer_id=7, email="e@x.io", phone="+1", orders=(3, 4)
        ),
        PrivacyRequest(
            PrivacyKind.DATA_REQUEST, SHOP, customer_id=7, orders=(3,), data_request_id=9
        ),
        PrivacyRequest(PrivacyKind.SHOP_REDACT, SHOP, shop_id=5),
        PrivacyRequest(PrivacyKind.REDACT, SHOP, email="only@x.io"),
    ],
    ids=["redact", "data-request", "shop-redact", "redact-by-email"],
)
def test_a_privacy_request_survives_its_payload(request_: PrivacyRequest) -> None:
    payload = json.loads(json.dumps(request_.to_payload()))
    assert privacy_request_from_payload(request_.kind.value, SHOP, payload) == request_


@pytest.mark.parametrize(
    ("named", "state"),
    [
        (SHOP, State.RECEIVED),
        (SHOP.upper(), State.RECEIVED),
        ("other.myshopify.com", State.IGNORED),
    ],
    ids=["same-shop", "same-shop-other-case", "other-shop"],
)
def test_a_compliance_body_must_name_the_delivering_shop(named: str, state: State) -> None:
    body = json.dumps({"shop_domain": named, "customer": {"id": 1}}).encode()
    found = classify("customers/redact", SHOP, body)
    assert found.state is state
    if state is State.IGNORED:
        assert found.reason == f"the body names shop {named!r}, the header {SHOP!r}"


def test_a_privacy_request_is_read_for_the_delivering_shop() -> None:
    payload = {"shop_domain": "other.myshopify.com", "customer": {"id": 1}}
    found = privacy_request_from_payload("customers/redact", SHOP, payload)
    assert found is not None
    assert found.shop_domain == SHOP
