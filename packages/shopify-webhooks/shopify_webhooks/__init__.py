"""Shopify webhook receiver: signed deliveries into a durable queue the tap reads.

Public API for readers: :func:`read_hints`, :class:`WebhookHints`, :class:`Hint`.
"""

from __future__ import annotations

from shopify_webhooks.domain.privacy import PrivacyKind, PrivacyRequest
from shopify_webhooks.domain.signature import shopify_headers, sign
from shopify_webhooks.reader import Hint, WebhookHints, read_hints

__all__ = [
    "Hint",
    "PrivacyKind",
    "PrivacyRequest",
    "WebhookHints",
    "read_hints",
    "shopify_headers",
    "sign",
]
