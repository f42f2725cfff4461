"""Readable differences between the expected and the stored books, naming each record."""

from __future__ import annotations

from typing import Any

LIMIT = 15
MISSING = "<absent>"


def describe_order(snapshot: dict[str, Any], order_id: int) -> str:
    """An order as a person routing a failure wants to see it."""
    order = next((o for o in snapshot["orders"] if o["id"] == order_id), None)
    if order is None:
        return f"order {order_id} (not in Shopify)"
    bits = [order["financial_status"] or "null"]
    bits += ["test"] * order["test"] + ["cancelled"] * bool(order["cancelled_at"])
    if order["refunds"]:
        bits.append(f"{len(order['refunds'])} refund(s)")
    if order["customer_id"] is None:
        bits.append("guest")
    bits.append(f"subtotal {order['subtotal_price']}, current {order['current_total_price']}")
    bits.append(f"tags {order['tags']}, placed {order['created_at']}")
    owner = order["customer_id"]
    return f"order {order_id} {order['name']} of customer {owner} ({', '.join(bits)})"


def describe_customer(snapshot: dict[str, Any], customer_id: int) -> str:
    """A customer by id, email and phone."""
    found = next((c for c in snapshot["customers"] if c["id"] == customer_id), None)
    if found is None:
        return f"customer {customer_id} (not in Shopify)"
    return f"customer {customer_id} (email {found['email']!r}, phone {found['phone']!r})"


def diff_maps(
    label: str, expected: dict[Any, Any], actual: dict[Any, Any], name: Any = str
) -> list[str]:
    """One line per key whose values differ, ``name(key)`` naming the record."""
    lines = []
    for key in sorted(set(expected) | set(actual), key=str):
        want, got = expected.get(key, MISSING), actual.get(key, MISSING)
        if want != got:
            lines.append(f"{label}: {name(key)}: expected {want}, actual {got}")
    return _capped(lines)


def diff_sets(label: str, expected: Any, actual: Any, name: Any = str) -> list[str]:
    """Members missing from the store and members it should not have."""
    missing = sorted(set(expected) - set(actual), key=str)
    extra = sorted(set(actual) - set(expected), key=str)
    lines = [f"{label}: missing {name(k)}" for k in missing]
    lines += [f"{label}: unexpected {name(k)}" for k in extra]
    return _capped(lines)


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= LIMIT:
        return lines
    return [*lines[:LIMIT], f"... and {len(lines) - LIMIT} more of the same check"]
