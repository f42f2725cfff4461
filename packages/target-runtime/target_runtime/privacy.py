"""Privacy requests: the request, its kinds and outcomes, and the placeholders. Pure.

What a ``privacy_requests`` record says is the same for every target (docs/record-contract.md);
which of a product's data is personal, how a customer is matched and how text is scrubbed are
each target's own rules (its ``domain/privacy.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

STREAM = "privacy_requests"


class Kind(enum.StrEnum):
    """The four kinds of privacy request (docs: the ``privacy_requests`` stream)."""

    CUSTOMER_DELETE = "customer_delete"
    CUSTOMER_REDACT = "customer_redact"
    SHOP_REDACT = "shop_redact"
    DATA_REQUEST = "data_request"


#: The kinds about one customer: such a request must name it (an id, an email or a phone).
CUSTOMER_KINDS: frozenset[Kind] = frozenset(
    {Kind.CUSTOMER_DELETE, Kind.CUSTOMER_REDACT, Kind.DATA_REQUEST}
)


class Outcome(enum.StrEnum):
    """What applying a request did (the audit row's ``outcome``)."""

    APPLIED = "applied"
    NO_MATCH = "no_match"
    ALREADY_APPLIED = "already_applied"
    EXPORTED = "exported"


@dataclass(frozen=True)
class PrivacyRequest:
    """One parsed ``privacy_requests`` record (its shop is the caller's to keep)."""

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


#: What replaces a free-text value that mentions the customer.
REDACTED = "[redacted]"
#: Placeholder addresses use a reserved top-level domain (RFC 2606), so none is deliverable.
PLACEHOLDER_DOMAIN = "redacted.invalid"


def placeholder_email(customer_id: int | None, request_id: str) -> str:
    """The placeholder address: it derives from the ids, never from the data it replaces.

    Args:
        customer_id: The redacted customer's id, if known.
        request_id: The request's id (used when no customer id is known).

    Returns:
        ``redacted-<customer_id or request_id>@redacted.invalid``.
    """
    return f"redacted-{customer_id if customer_id is not None else request_id}@{PLACEHOLDER_DOMAIN}"


def names_no_customer(
    kind: Kind | str, customer_id: int | None, email: str | None, phone: str | None
) -> bool:
    """Whether a request about one customer names none (the record is then rejected).

    Args:
        kind: The request's kind.
        customer_id: Its customer id, if any.
        email: Its email, if any (an empty one names nobody).
        phone: Its phone, if any (an empty one names nobody).

    Returns:
        True for a customer kind with no customer id, email or phone.
    """
    return kind in CUSTOMER_KINDS and customer_id is None and not email and not phone
