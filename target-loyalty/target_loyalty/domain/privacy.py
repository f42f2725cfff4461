"""Privacy requests: which loyalty data is personal, and how a customer is found.

Pure rules; the SQL that applies them is in :mod:`target_loyalty.privacy_store`. The request,
its kinds, outcomes and the placeholders are the runtime's (:mod:`target_runtime.privacy`),
re-exported here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from target_runtime.privacy import (
    CUSTOMER_KINDS,
    PLACEHOLDER_DOMAIN,
    REDACTED,
    Kind,
    Outcome,
    PrivacyRequest,
    names_no_customer,
    placeholder_email,
)

__all__ = [
    "CUSTOMER_KINDS",
    "FREE_TEXT_COLUMNS",
    "PERSONAL_COLUMNS",
    "PLACEHOLDER_DOMAIN",
    "REDACTED",
    "Kind",
    "Outcome",
    "PrivacyRequest",
    "matches",
    "mentions",
    "names_no_customer",
    "needles",
    "normal_email",
    "normal_phone",
    "placeholder_email",
    "redacted_account",
]


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
