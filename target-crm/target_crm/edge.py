"""What a record may hold, checked at the edge before any write (README "Rules").

Every bound is one the store can hold on SQLite and PostgreSQL alike: ids fit BIGINT, money
fits NUMERIC(19,4), text fits its column and carries no NUL (PostgreSQL text cannot).
"""

from __future__ import annotations

from target_runtime.edge import DEFAULT_TEXT_LIMIT
from target_runtime.edge import TEXT_LIMITS as CONTRACT_TEXT_LIMITS
from target_runtime.edge import text_problem as _text_problem

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


def text_problem(field: str, value: str) -> str | None:
    """Why a text is unusable: a NUL character, or longer than the field's bound; or None."""
    return _text_problem(value, TEXT_LIMITS.get(field.rsplit(".", 1)[-1], DEFAULT_TEXT_LIMIT))
