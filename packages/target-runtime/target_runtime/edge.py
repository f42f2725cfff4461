"""The record contract's storage bounds, checked by every target before any write.

Every bound is one both backends hold: ids fit BIGINT, money fits NUMERIC(19,4), text fits its
column and carries no NUL (PostgreSQL text cannot). A target adds bounds of its own columns on
top of ``TEXT_LIMITS``; it never loosens these.
"""

from __future__ import annotations

from decimal import Decimal

#: Ids are positive 64-bit integers.
MAX_ID = 2**63 - 1
#: Counts and quantities fit INTEGER.
MAX_COUNT = 2**31 - 1
#: Money fits NUMERIC(19,4): |amount| < 10**15 with at most 4 decimals.
MONEY_LIMIT = Decimal(10) ** 15
MONEY_PLACES = 4
#: An amount as Shopify writes it, which every money check passes by its shape: digits, below
#: 10**15, at most MONEY_PLACES decimals, not negative. ``\Z``, not ``$``: a trailing newline
#: is not plain. For msgspec ``Meta(pattern=...)`` fast paths and ``is_plain_amount``.
PLAIN_AMOUNT_PATTERN = rf"^[0-9]{{1,15}}(?:\.[0-9]{{1,{MONEY_PLACES}}})?\Z"
#: Longest text per field (characters); any other text: ``DEFAULT_TEXT_LIMIT``.
DEFAULT_TEXT_LIMIT = 1_000
TAG_LIMIT = 255
TEXT_LIMITS: dict[str, int] = {
    "email": 320,
    "phone": 64,
    "first_name": 255,
    "last_name": 255,
    "display_name": 511,  # Shopify joins first and last name, each up to 255
    "shop_domain": 255,
    "tag": TAG_LIMIT,
    "note": 5_000,
}


def text_problem(value: str, limit: int) -> str | None:
    """Why a text cannot be stored: a NUL character, or longer than ``limit``; or None.

    Args:
        value: The text.
        limit: Its field's bound, in characters.

    Returns:
        The reason, or None when the text is storable.
    """
    if "\x00" in value:
        return "contains a NUL character"
    if len(value) > limit:
        return f"{len(value):,} characters, more than the {limit:,} allowed"
    return None


def printable_key(key: str, limit: int = 120) -> str:
    """A record key safe to store and print: no NUL, at most ``limit`` characters.

    Args:
        key: The key as built from the record.
        limit: Its longest form.

    Returns:
        The key, with NUL written as ``\\0`` and a long one cut with an ellipsis.
    """
    clean = key.replace("\x00", "\\0")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
