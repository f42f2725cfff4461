"""Changes made to the store between syncs, through the control API, picked
deterministically from the snapshot (lowest ids first) so an example replays exactly.

Paying an order has no control-API method yet, so :func:`pay_order` changes the emulator's
own objects the way a capture would (status from the transactions, updatedAt bumped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from recompute_rules import Lineage, duplicate_pairs, has_skip_tag, normalised_email
from shopify_emulator.model import iso
from shopify_emulator.store import customer_facts, order_facts


@dataclass
class Setup:
    """Customers added before the backfill: one to delete later, one without email whose
    orders were placed long before it gets one, and an order awaiting payment."""

    orderless: int
    late: int
    pending_order: int


@dataclass
class Changes:
    """What the incremental phase did, for the report of a failure."""

    done: list[str] = field(default_factory=list)


def prepare(server: Any) -> Setup:
    """Add the setup customers and orders (placed in the past, before any sync)."""
    control, now = server.control, server.store.now()
    orderless = control.create_customer(email="orderless@example.com", first_name="Orderless")
    late = control.create_customer(first_name="Late", last_name="Identifier")
    for days in (200, 40):
        control.create_order(late, line_items=2, created_at=iso(now - days * 86_400))
    buyer = min(c for c in _customers(server) if c not in (orderless, late))
    pending = control.create_order(
        buyer, line_items=3, financial_status="PENDING", created_at=iso(now - 5 * 86_400)
    )
    return Setup(orderless, late, pending)


def _customers(server: Any) -> list[int]:
    with server.store.lock:
        return sorted(server.store.customers)


def pay_order(server: Any, order_id: int) -> None:
    """Capture an unpaid order's payment: it becomes PAID and its updatedAt moves."""
    store = server.store
    with store.lock:
        order = store.materialize(order_id)
        store.before_change("Order", order_id, order_facts(order))
        order.financial_override = None
        for txn in order.transactions:
            if txn.kind in ("AUTHORIZATION", "SALE"):
                txn.kind, txn.status, txn.amount_cents = "SALE", "SUCCESS", order.total_cents
        now = store.now()
        order.updated_at = max(now, order.updated_at)
        customer = store.customers.get(order.customer_id)
        if customer is not None:  # amountSpent moved: Shopify bumps the customer too
            store.before_change("Customer", customer.id, customer_facts(customer))
            customer.updated_at = max(now, customer.updated_at)


def _plain(order: dict[str, Any], contacts: set[int]) -> bool:
    return (
        order["customer_id"] in contacts
        and order["financial_status"] == "PAID"
        and not order["test"]
        and not order["cancelled_at"]
        and not order["refunds"]
        and not has_skip_tag(order)
        and bool(order["line_items"])
    )


def incremental(server: Any, snapshot: dict[str, Any], setup: Setup, lineage: Lineage) -> Changes:
    """Pay, give an email, refund (partial, full, shipping-only, a second one), cancel,
    tag, place new orders, merge, delete and make a duplicate by an email change."""
    control, changes = server.control, Changes()
    contacts = {c["id"] for c in snapshot["customers"] if normalised_email(c)}
    paired = {cid for a, b, _ in duplicate_pairs(snapshot) for cid in (a, b)}
    busy = {setup.orderless, setup.late, *paired}
    plain = [o for o in snapshot["orders"] if _plain(o, contacts)]
    picked = [o for o in plain if o["customer_id"] not in busy][:5]
    partial, full, shipping, cancelled, tagged = picked
    busy |= {o["customer_id"] for o in picked}

    def log(text: str) -> None:
        changes.done.append(text)

    authorized = [
        o["id"]
        for o in snapshot["orders"]
        if o["financial_status"] == "AUTHORIZED" and o["customer_id"] and not o["cancelled_at"]
    ]
    unpaid = [setup.pending_order, *authorized[:1]]
    for oid in unpaid:
        pay_order(server, oid)
        log(f"paid order {oid}")
    control.update_customer(setup.late, email=f"late.{setup.late}@example.com")
    log(f"customer {setup.late} got an email")
    control.refund_order(partial["id"], line_items=[(partial["line_items"][0]["id"], 1)])
    control.refund_order(full["id"])
    control.refund_order(shipping["id"], amount="1.00")
    log(f"refunds: partial {partial['id']}, full {full['id']}, amount-only {shipping['id']}")
    again = _second_refund(control, snapshot)
    if again is not None:
        log(f"a second refund on order {again}")
    control.cancel_order(cancelled["id"])
    control.update_order(tagged["id"], tags=[*tagged["tags"], "Skip_Loyalty"])
    log(f"cancelled order {cancelled['id']}, tagged order {tagged['id']} Skip_Loyalty")
    buyer = partial["customer_id"]
    new_paid = control.create_order(buyer, line_items=2)
    new_unpaid = control.create_order(buyer, line_items=1, financial_status="AUTHORIZED")
    log(f"new orders {new_paid} (paid), {new_unpaid} (AUTHORIZED) of {buyer}")
    _merge_and_delete(control, snapshot, setup, lineage, contacts, busy, log)
    return changes


def _second_refund(control: Any, snapshot: dict[str, Any]) -> int | None:
    for order in snapshot["orders"]:
        if order["financial_status"] != "PARTIALLY_REFUNDED" or order["cancelled_at"]:
            continue
        for line in order["line_items"]:
            if line["current_quantity"] > 0:
                control.refund_order(order["id"], line_items=[(line["id"], 1)])
                return int(order["id"])
    return None


def _merge_and_delete(control, snapshot, setup, lineage, contacts, busy, log) -> None:
    owners = sorted({o["customer_id"] for o in snapshot["orders"] if o["customer_id"]})
    movers = [c for c in owners if c in contacts and c not in busy]
    keep, remove, changer, target = movers[:4]
    control.merge_customers(keep, remove)
    lineage.merges[remove] = keep
    control.delete_customer(setup.orderless)
    log(f"merged {remove} into {keep}; deleted {setup.orderless}")
    email = next(c["email"] for c in snapshot["customers"] if c["id"] == target)
    control.update_customer(changer, email=f"  {email.upper()} ")
    log(f"customer {changer} now shares the email of {target} (other case, spaces)")


def before_range(snapshot: dict[str, Any], start: datetime) -> dict[str, Any] | None:
    """A paid order placed before a preset's range start (its changes are not booked)."""
    return next(
        (
            o
            for o in snapshot["orders"]
            if o["financial_status"] == "PAID"
            and o["customer_id"]
            and not o["cancelled_at"]
            and not o["test"]
            and datetime.fromisoformat(o["created_at"].replace("Z", "+00:00"))
            < start - timedelta(days=1)
        ),
        None,
    )


def after_preset(server: Any, snapshot: dict[str, Any], start: datetime) -> Changes:
    """Refund an order placed before the range; place a new order."""
    changes, control = Changes(), server.control
    old = before_range(snapshot, start)
    if old is not None:
        control.refund_order(old["id"], amount="2.00")
        changes.done.append(f"refunded order {old['id']} placed before the range")
    buyer = min(c["id"] for c in snapshot["customers"] if normalised_email(c))
    new = control.create_order(buyer, line_items=1)
    changes.done.append(f"new order {new} of {buyer}")
    return changes


def store_time(server: Any) -> datetime:
    """The emulator's clock."""
    return datetime.fromtimestamp(server.store.now(), tz=UTC)
