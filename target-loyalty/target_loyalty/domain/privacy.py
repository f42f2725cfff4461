"""Privacy requests: which data is personal, the placeholders, and how a customer is found.

Pure rules; the SQL that applies them is in :mod:`target_loyalty.privacy_store`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


class Kind(enum.StrEnum):
    """The four kinds of privacy request (docs: the ``privacy_requests`` stream)."""

    CUSTOMER_DELETE = "customer_delete"
    CUSTOMER_REDACT = "customer_redact"
    SHOP_REDACT = "shop_redact"
    DATA_REQUEST = "data_request"


class Outcome(enum.StrEnum):
    """What applying a request did (the audit row's ``outcome``)."""

    APPLIED = "applied"
    NO_MATCH = "no_match"
    ALREADY_APPLIED = "already_applied"
    EXPORTED = "exported"


@dataclass(frozen=True)
class PrivacyRequest:
    """One parsed ``privacy_requests`` record."""

    request_id: str
    kind: Kind
    customer_id: int | None
    email: str | None
    phone: str | None
    order_ids: tuple[int, ...]
    data_request_id: int | None
    origin: str
    requested_at: datetime
    queue_position: int


#: The personal columns of each loyalty table, with the placeholder rule of each column:
#: ``email`` gets the placeholder address, others NULL (all are nullable).
PERSONAL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "loyalty_accounts": ("email", "first_name", "last_name", "phone"),
}
#: Text columns that may quote a raw record (and so a customer's data): a row mentioning
#: the customer has the whole value replaced by :data:`REDACTED` (the columns are NOT NULL).
FREE_TEXT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "loyalty_quarantine": ("payload", "reason"),
    "loyalty_dead_letters": ("raw", "reason"),
    "loyalty_discrepancies": ("reason",),
}
REDACTED = "[redacted]"
PLACEHOLDER_DOMAIN = "redacted.invalid"


def placeholder_email(customer_id: int | None, request_id: str) -> str:
    """The placeholder address: it derives from the ids, never from the data.

    Returns:
        ``redacted-<customer_id or request_id>@redacted.invalid``.
    """
    return f"redacted-{customer_id if customer_id is not None else request_id}@{PLACEHOLDER_DOMAIN}"


def redacted_account(customer_id: int, request_id: str) -> dict[str, str | None]:
    """The values that replace an account's personal columns."""
    return {
        "email": placeholder_email(customer_id, request_id),
        "first_name": None,
        "last_name": None,
        "phone": None,
    }


def normal_email(email: str | None) -> str | None:
    """An address compared case-insensitively, without surrounding blanks."""
    if email is None or not email.strip():
        return None
    return email.strip().lower()


def normal_phone(phone: str | None) -> str | None:
    """A phone compared by its digits (and a leading ``+``), ignoring spaces and dashes."""
    if phone is None:
        return None
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return None
    return ("+" if phone.strip().startswith("+") else "") + digits


def matches(
    request: PrivacyRequest, customer_id: int, email: str | None, phone: str | None
) -> bool:
    """Whether a stored account is the request's customer.

    By ``customer_id`` when the request has one; else by email or phone, normalised.
    """
    if request.customer_id is not None:
        return customer_id == request.customer_id
    want_email, want_phone = normal_email(request.email), normal_phone(request.phone)
    return (want_email is not None and normal_email(email) == want_email) or (
        want_phone is not None and normal_phone(phone) == want_phone
    )


def needles(customer_id: int, values: Iterable[str | None]) -> tuple[str, ...]:
    """The strings whose presence in a raw payload means it mentions the customer.

    The customer's personal values (as stored, and lower-cased) and its id as a JSON
    ``id``/``customer_id`` member.
    """
    out: set[str] = set()
    for value in values:
        if value and value.strip():
            out.add(value)
            out.add(value.lower())
            out.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string
    out.update({f'"id": {customer_id}', f'"customer_id": {customer_id}'})
    out.update({f'"id":{customer_id}', f'"customer_id":{customer_id}'})
    return tuple(sorted(out))


def mentions(text: str | None, found: Iterable[str]) -> bool:
    """Whether ``text`` holds any of the needles (ids only as whole numbers)."""
    if not text:
        return False
    lowered = text.lower()
    for needle in found:
        if needle.startswith('"'):
            if re.search(re.escape(needle) + r"(?!\d)", text):
                return True
        elif needle.lower() in lowered:
            return True
    return False
