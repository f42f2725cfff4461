"""Privacy requests: parsing rules and placeholders (README "Privacy requests"). Pure.

The request, its kinds, outcomes and the placeholder address are the runtime's
(:mod:`target_runtime.privacy`); a CRM request also carries its shop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from target_runtime import privacy as runtime_privacy
from target_runtime.privacy import CUSTOMER_KINDS, STREAM, Kind, Outcome, names_no_customer
from target_runtime.privacy import placeholder_email as redacted_email

from target_crm.domain.identity import normalize_email
from target_crm.exceptions import RecordRejectedError

KINDS = frozenset(Kind)
REDACTED_TEXT = runtime_privacy.REDACTED

# The audit row's outcomes, as the plain strings this target has always stored.
APPLIED = Outcome.APPLIED.value
NO_MATCH = Outcome.NO_MATCH.value
ALREADY_APPLIED = Outcome.ALREADY_APPLIED.value
EXPORTED = Outcome.EXPORTED.value

__all__ = [
    "ALREADY_APPLIED",
    "APPLIED",
    "CUSTOMER_KINDS",
    "EXPORTED",
    "KINDS",
    "NO_MATCH",
    "REDACTED_TEXT",
    "STREAM",
    "Kind",
    "PrivacyRequest",
    "mentions",
    "parse_privacy_request",
    "redacted_email",
    "scrub",
    "scrub_text",
]


@dataclass(frozen=True)
class PrivacyRequest(runtime_privacy.PrivacyRequest):
    """One parsed `privacy_requests` record, with its (lower-cased) shop."""

    shop_domain: str


def _reject(record: Mapping[str, Any], field: str, reason: str) -> RecordRejectedError:
    key = f"{record.get('shop_domain')!s}/{record.get('request_id')!s}"
    return RecordRejectedError(STREAM, key, field, reason)


def _text(record: Mapping[str, Any], field: str, *, required: bool) -> str | None:
    value = record.get(field)
    if value is None or value == "":
        if required:
            raise _reject(record, field, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise _reject(record, field, f"{field} must be a string")
    return value


def _int(record: Mapping[str, Any], field: str) -> int | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _reject(record, field, f"{field} must be an integer")
    return value


def parse_privacy_request(record: Mapping[str, Any]) -> PrivacyRequest:
    """Parse a `privacy_requests` record (docs/record-contract.md); errors name the field.

    Args:
        record: The raw record.

    Returns:
        The request.

    Raises:
        RecordRejectedError: a bad kind, no shop, no request id, or a customer kind that
            names no customer id, email or phone.
    """
    shop = _text(record, "shop_domain", required=True)
    request_id = _text(record, "request_id", required=True)
    kind = _text(record, "kind", required=True)
    if kind not in KINDS:
        raise _reject(record, "kind", f"kind must be one of {', '.join(sorted(KINDS))}")
    customer_id = _int(record, "customer_id")
    email = _text(record, "email", required=False)
    phone = _text(record, "phone", required=False)
    if names_no_customer(kind, customer_id, email, phone):
        raise _reject(record, "customer_id", f"{kind} names no customer_id, email or phone")
    raw_orders = record.get("order_ids") or []
    if not isinstance(raw_orders, list) or any(
        isinstance(o, bool) or not isinstance(o, int) for o in raw_orders
    ):
        raise _reject(record, "order_ids", "order_ids must be a list of integers")
    at_text = _text(record, "requested_at", required=True)
    try:
        requested_at = datetime.fromisoformat(str(at_text).replace("Z", "+00:00"))
    except ValueError:
        raise _reject(record, "requested_at", "requested_at is not a date-time") from None
    if requested_at.tzinfo is None:
        requested_at = requested_at.replace(tzinfo=UTC)
    position = _int(record, "queue_position")
    return PrivacyRequest(
        shop_domain=str(shop).lower(),
        request_id=str(request_id),
        kind=Kind(kind),
        customer_id=customer_id,
        email=normalize_email(email) if email else None,
        phone=phone,
        order_ids=tuple(raw_orders),
        data_request_id=_int(record, "data_request_id"),
        origin=_text(record, "origin", required=False) or "webhook",
        requested_at=requested_at.astimezone(UTC),
        queue_position=position if position is not None else 0,
    )


def _searched_within(secret: str) -> bool:
    # Emails and phone numbers are found inside longer text; a name only as the whole
    # value, so that "First1" does not erase "First10".
    return "@" in secret or sum(ch.isdigit() for ch in secret) >= 6


def mentions(text: str, secrets: frozenset[str]) -> bool:
    """Whether a text holds one of the personal values (case-insensitive).

    Args:
        text: The text.
        secrets: The personal values.

    Returns:
        True when an email/phone occurs in it or a name equals it.
    """
    lowered = text.strip().lower()
    for secret in secrets:
        s = secret.lower()
        if lowered == s or (_searched_within(s) and s in lowered):
            return True
    return False


def scrub(value: Any, secrets: frozenset[str]) -> tuple[Any, int]:
    """Replace, anywhere in a JSON value, strings equal to (or containing) a personal value.

    Args:
        value: A JSON value (event properties, a stored payload).
        secrets: The personal strings to remove (emails, phones, names), non-empty ones.

    Returns:
        The scrubbed value and how many strings were replaced.
    """
    if isinstance(value, str):
        if mentions(value, secrets):
            return REDACTED_TEXT, 1
        return value, 0
    if isinstance(value, list):
        out, n = [], 0
        for item in value:
            new, k = scrub(item, secrets)
            out.append(new)
            n += k
        return out, n
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        n = 0
        for key, item in value.items():
            new, k = scrub(item, secrets)
            result[key] = new
            n += k
        return result, n
    return value, 0


def scrub_text(text: str, secrets: frozenset[str]) -> tuple[str, int]:
    """Scrub a stored JSON text (a quarantined payload); non-JSON text is replaced whole.

    Args:
        text: The stored text.
        secrets: The personal strings to remove.

    Returns:
        The new text and how many values were replaced.
    """
    if not any(s.lower() in text.lower() for s in secrets):
        return text, 0
    try:
        value = json.loads(text)
    except ValueError:
        return REDACTED_TEXT, 1
    new, n = scrub(value, secrets)
    return json.dumps(new, sort_keys=True, default=str), max(n, 1)
