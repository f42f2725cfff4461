"""Shopify's webhook signature: base64(HMAC-SHA256(client secret, raw body))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends with ``body``.

    Example:
        >>> sign(b'{"id":1}', "shhh")
        'Lcc9Yf2U6zbkFFL44wuL0uEJMTo4Q8mC5iIG3KWCtLA='
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_signed_by(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """Whether ``header`` is the signature of ``body`` under one of ``secrets``.

    Every secret is tried (no early exit) and each comparison is constant-time, so the
    answer's timing says nothing about how close a forged signature came. Several secrets
    exist only while the app's client secret is being rotated.
    """
    if not header:
        return False
    # Starlette decodes headers as latin-1; compare bytes so a non-ASCII header is simply
    # wrong instead of raising inside compare_digest.
    presented = header.strip().encode("latin-1", errors="replace")
    matched = False
    for secret in secrets:
        expected = sign(body, secret).encode("ascii")
        matched |= hmac.compare_digest(expected, presented)
    return matched


def shopify_headers(
    body: bytes,
    secret: str,
    *,
    topic: str,
    shop_domain: str,
    webhook_id: str,
    event_id: str | None = None,
    triggered_at: str = "2026-01-01T00:00:00.000000000Z",
    api_version: str = "2025-01",
) -> dict[str, str]:
    """The headers Shopify sends with ``body``, signed with ``secret``.

    For whatever sends deliveries to a receiver: tests, the benchmark, an emulator.
    """
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": triggered_at,
    }
    if event_id is not None:
        headers["X-Shopify-Event-Id"] = event_id
    return headers
