"""Identity resolution (seed 003): Shopify ID first, then normalised email, then phone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from target_crm.domain.models import Customer, Identifier

_NON_DIGITS = re.compile(r"\D+")
_MIN_PHONE_DIGITS = 7


def normalize_email(raw: str | None) -> str | None:
    """Normalise an email for matching: trimmed and lower-cased, None when empty.

    Provider-specific rewrites (Gmail dots, plus tags) are deliberately not applied: two
    addresses that differ there can belong to two people, and a wrong merge is worse than
    a missed one.

    Args:
        raw: The email as Shopify holds it.

    Returns:
        The normalised email, or None when there is none or it has no ``@``.
    """
    if raw is None:
        return None
    value = raw.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@"):
        return None
    return value


def normalize_phone(raw: str | None, default_calling_code: str | None = None) -> str | None:
    """Normalise a phone number to E.164-like ``+<digits>`` for matching.

    Args:
        raw: The phone as Shopify holds it (usually E.164 already).
        default_calling_code: Country calling code (``"44"``) for national numbers.

    Returns:
        ``+<digits>``, or None when the number is too short to identify anyone.
    """
    if raw is None:
        return None
    value = raw.strip()
    digits = _NON_DIGITS.sub("", value)
    if value.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif default_calling_code:
        digits = default_calling_code + digits.lstrip("0")
    if len(digits) < _MIN_PHONE_DIGITS:
        return None
    return "+" + digits


def identifier_value(
    customer: Customer, identifier: Identifier, default_calling_code: str | None = None
) -> str | None:
    """The value of the chosen identifier for a customer, or None if it has none.

    Args:
        customer: The Shopify customer.
        identifier: The identifier chosen in the settings.
        default_calling_code: Calling code for national phone numbers.

    Returns:
        The identifying value, or None when the customer cannot be loaded.
    """
    if identifier is Identifier.EMAIL:
        return normalize_email(customer.email)
    if identifier is Identifier.PHONE:
        return normalize_phone(customer.phone, default_calling_code)
    return str(customer.id)


@dataclass(frozen=True)
class Resolution:
    """The outcome of identity resolution for one incoming customer."""

    rule: str | None
    matched_customer_id: int | None

    @property
    def is_duplicate(self) -> bool:
        """True when another Shopify customer is the same person."""
        return self.rule in {"email", "phone"}


NEW_PERSON = Resolution(rule=None, matched_customer_id=None)


def resolve_contact(
    customer_id: int,
    known_ids: frozenset[int] | set[int],
    email_owner: int | None,
    phone_owner: int | None,
) -> Resolution:
    """Decide which existing contact, if any, an incoming customer is.

    Args:
        customer_id: The incoming Shopify customer id.
        known_ids: Customer ids the store already holds a contact for (this shop).
        email_owner: Customer id of the active contact holding the same normalised email.
        phone_owner: Customer id of the active contact holding the same normalised phone.

    Returns:
        The matching rule and contact: ``shopify_id`` (same customer), ``email`` or
        ``phone`` (another customer, a duplicate pair), or no match.
    """
    if customer_id in known_ids:
        return Resolution(rule="shopify_id", matched_customer_id=customer_id)
    if email_owner is not None and email_owner != customer_id:
        return Resolution(rule="email", matched_customer_id=email_owner)
    if phone_owner is not None and phone_owner != customer_id:
        return Resolution(rule="phone", matched_customer_id=phone_owner)
    return NEW_PERSON
