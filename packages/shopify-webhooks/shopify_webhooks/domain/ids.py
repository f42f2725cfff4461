"""Shopify ids and JSON bodies as the receiver reads them."""

from __future__ import annotations

import json
from typing import Any

MAX_ID = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """A Shopify numeric id from an int, a digit string or a ``gid://shopify/X/123``.

    Booleans, zero, negatives and values beyond BIGINT are not ids.

    Example:
        >>> parse_id("gid://shopify/Customer/123"), parse_id(True), parse_id(0)
        (123, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        tail = value.rsplit("/", 1)[-1] if value.startswith("gid://") else value
        tail = tail.split("?", 1)[0]
        if not tail.isascii() or not tail.isdigit():
            return None
        value = int(tail)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


def decode_body(body: bytes) -> dict[str, Any] | None:
    """The JSON object in ``body``, or None when it is not one."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None
