"""Turning Shopify's per-field protected-customer-data denials into one clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tap_shopify_history.shopify.errors import ProtectedCustomerDataError

# Level 2 of protected customer data covers name, email, phone and address.
LEVEL_2_FIELDS = frozenset(
    {
        "email",
        "phone",
        "firstName",
        "lastName",
        "displayName",
        "defaultAddress",
        "addresses",
        "billingAddress",
        "shippingAddress",
        "defaultEmailAddress",
        "defaultPhoneNumber",
    }
)
_NOT_APPROVED = re.compile(r"not approved to (?:access|use)", re.IGNORECASE)
_FIELD_IN_MESSAGE = re.compile(r"use the (\w+) field", re.IGNORECASE)
_OBJECT_IN_MESSAGE = re.compile(r"access the (\w+) object", re.IGNORECASE)


def _denied_field(error: Mapping[str, Any]) -> str:
    message = str(error.get("message", ""))
    if match := _FIELD_IN_MESSAGE.search(message):
        return match.group(1)
    path = [p for p in error.get("path") or [] if isinstance(p, str)]
    if path:
        return path[-1]
    if match := _OBJECT_IN_MESSAGE.search(message):
        return match.group(1)
    return "unknown"


def raise_if_protected_data_denied(errors: Sequence[Mapping[str, Any]]) -> None:
    """Raise one :class:`ProtectedCustomerDataError` if any error is such a denial.

    Args:
        errors: The ``errors`` list of a GraphQL response.

    Raises:
        ProtectedCustomerDataError: Naming every denied field once.
    """
    fields = [_denied_field(e) for e in errors if _NOT_APPROVED.search(str(e.get("message", "")))]
    if fields:
        level = 2 if any(f in LEVEL_2_FIELDS for f in fields) else 1
        raise ProtectedCustomerDataError(fields, level)
