"""What a record may hold, checked at the edge before any write (README "Rules").

Every bound is one the store can hold on SQLite and PostgreSQL alike: ids fit BIGINT, money
fits NUMERIC(19,4), text fits its column and carries no NUL (PostgreSQL text cannot).
"""

from __future__ import annotations

from decimal import Decimal

from target_runtime.edge import DEFAULT_TEXT_LIMIT, MAX_ID, MONEY_LIMIT, MONEY_PLACES
from target_runtime.edge import TEXT_LIMITS as CONTRACT_TEXT_LIMITS
from target_runtime.edge import text_problem as _text_problem

MAX_COUNT = 2**31 - 1  # counts and quantities fit INTEGER
# Per-field bounds (the field's last name): the contract's, plus this store's own columns;
# the rest is "any other text".
TEXT_LIMITS = {
    **CONTRACT_TEXT_LIMITS,
    "title": 255,
    "city": 255,
    "province": 255,
    "country": 255,
    "name": 64,  # an order name (`#1001`)
    "currency_code": 8,
    "financial_status": 32,
    "state": 32,
    "opt_in_level": 32,
}


def id_problem(value: int) -> str | None:
    """Why an id is unusable (ids are 1..2**63-1), or None."""
    if not 1 <= value <= MAX_ID:
        return f"{value} is not an id between 1 and 2**63-1"
    return None


def count_problem(value: int) -> str | None:
    """Why a count or quantity is unusable (0..2**31-1), or None."""
    if not 0 <= value <= MAX_COUNT:
        return f"{value} is not a count between 0 and 2**31-1"
    return None


def money_problem(amount: Decimal) -> str | None:
    """Why an amount is unusable: too large, more than 4 decimals, or negative; or None."""
    if abs(amount) >= MONEY_LIMIT:
        return f"{amount} exceeds the largest amount stored (10**15)"
    if amount != amount.quantize(Decimal(1).scaleb(-MONEY_PLACES)):
        return f"{amount} has more than {MONEY_PLACES} decimals"
    if amount < 0:
        return f"{amount} is negative; totals and prices are not"
    return None


def text_problem(field: str, value: str) -> str | None:
    """Why a text is unusable: a NUL character, or longer than the field's bound; or None."""
    return _text_problem(value, TEXT_LIMITS.get(field.rsplit(".", 1)[-1], DEFAULT_TEXT_LIMIT))


def printable_key(key: str, limit: int = 120) -> str:
    """A record key safe to store and print: no NUL, at most ``limit`` characters."""
    clean = key.replace("\x00", "\\0")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
