"""Identity resolution (seed 003): Shopify ID first, then normalised email, then phone."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from target_crm.domain.models import CrmRules, Customer, Identifier


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


# A batch reads each customer's phone three times (the owners' look-up, the resolution and
# the contact), and `phonenumbers.parse` is the largest single cost of a customer: a pure
# function of its arguments, so cached, sized above one batch (10,000 records).
@lru_cache(maxsize=20_000)
def normalize_phone(raw: str | None, region: str | None = None) -> str | None:
    """Normalise a phone number to E.164 with ``phonenumbers``, for matching.

    International numbers (``+44 (0)7700 900123``, ``0033 6 ...``) are read as written;
    national ones (``06 6982 0000``) in ``region``. A number that cannot be parsed, or
    whose length no numbering plan allows, is not normalised: it is kept raw on the
    contact and never matches anyone (a wrong match would merge two people).

    Args:
        raw: The phone as Shopify holds it (usually E.164 already).
        region: ISO 3166 alpha-2 country (``"IT"``) for national numbers, or None.

    Returns:
        ``+<country code><number>``, or None when the number cannot be normalised.
    """
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region(country_code: str | None, rules: CrmRules) -> str | None:
    """The country national phone numbers are read in: the address's, else the shop's.

    Args:
        country_code: The customer's default address country (ISO alpha-2), if any.
        rules: ``default_country``, then ``default_calling_code`` (``"44"`` -> ``GB``).

    Returns:
        An ISO alpha-2 region, or None when nothing says which country.
    """
    if country_code and country_code.strip():
        return country_code.strip().upper()
    if rules.default_country:
        return rules.default_country.upper()
    if rules.default_calling_code and rules.default_calling_code.strip().isdigit():
        region = phonenumbers.region_code_for_country_code(int(rules.default_calling_code))
        return None if region == phonenumbers.UNKNOWN_REGION else region
    return None


def customer_phone(customer: Customer, rules: CrmRules) -> str | None:
    """A customer's phone in E.164, read in the customer's (then the shop's) country.

    Args:
        customer: The Shopify customer.
        rules: The settings (default country).

    Returns:
        The normalised phone, or None.
    """
    return normalize_phone(customer.phone, phone_region(customer.country_code, rules))


def identifier_value(customer: Customer, rules: CrmRules) -> str | None:
    """The value of the chosen identifier for a customer, or None if it has none.

    Args:
        customer: The Shopify customer.
        rules: The settings (``identifier``, default country).

    Returns:
        The identifying value, or None when the customer cannot be loaded.
    """
    if rules.identifier is Identifier.EMAIL:
        return normalize_email(customer.email)
    if rules.identifier is Identifier.PHONE:
        return customer_phone(customer, rules)
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
