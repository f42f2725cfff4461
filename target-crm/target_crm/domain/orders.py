"""Orders: lifetime value, and the events an order version produces (seeds 000, 001, 003)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from target_crm.domain.events import (
    ORDER_CANCELLED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    ORDER_UPDATED,
    make_event,
    within_retention,
)
from target_crm.domain.models import ZERO, CrmRules, Event, Order, OrderSnapshot

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
OUTSIDE_RETENTION = "outside_retention_window"
SKIPPED = "skipped"
GUEST_ORDER = "guest_order"
NO_CONTACT = "contact_not_loaded"
TEST_ORDER = "test_order"
STALE_VERSION = "stale_version"


@dataclass(frozen=True)
class OrderOutcome:
    """What applying one order version does: the snapshot to keep and the events."""

    outcome: str
    snapshot: OrderSnapshot | None
    events: tuple[Event, ...] = ()
    suppressed: tuple[str, ...] = ()
    reason: str | None = None


def is_paid(order: Order, paid_statuses: frozenset[str]) -> bool:
    """Whether an order's money counts: its financial status is one of the paid statuses.

    Args:
        order: The order version.
        paid_statuses: ``paid_financial_statuses`` (upper-case Shopify statuses).

    Returns:
        True for a paid (or partially refunded / refunded) order; False for pending,
        authorized, partially paid, voided, expired, null or unknown statuses.
    """
    status = order.financial_status
    return status is not None and status.upper() in paid_statuses


def order_value(order: Order, rules: CrmRules) -> tuple[bool, Decimal]:
    """What an order adds to its contact: (counts as an order, lifetime value).

    Only paid money counts (``paid_financial_statuses``): the total after refunds, and 0 for
    a cancelled order. ``order_count`` counts orders that are paid, not cancelled, not fully
    refunded and not test orders (seed 003, README "Rules").

    Args:
        order: The order version.
        rules: The settings (``paid_financial_statuses``).

    Returns:
        Whether it counts in ``order_count`` and its contribution to lifetime value.
    """
    if order.test or order.cancelled_at is not None:
        return False, ZERO
    if not is_paid(order, rules.paid_financial_statuses):
        return False, ZERO
    net = max(ZERO, order.total_price - order.total_refunded)
    fully_refunded = order.total_price > ZERO and net == ZERO
    return not fully_refunded, net


def fingerprint(order: Order) -> str:
    """A digest of what a destination shows of an order, to detect real updates.

    Args:
        order: The order version.

    Returns:
        A short hex digest.
    """
    parts = [
        order.financial_status,
        order.fulfillment_status,
        order.current_total_price,
        order.total_refunded,
        order.cancelled_at,
        order.closed_at,
        order.customer_id,
        order.tags,
        tuple((li.id, li.current_quantity) for li in order.line_items),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def snapshot_of(
    order: Order,
    contact_customer_id: int | None,
    previous: OrderSnapshot | None,
    rules: CrmRules,
) -> OrderSnapshot:
    """The snapshot the store keeps of an order version.

    Args:
        order: The order version.
        contact_customer_id: The contact its events and value belong to.
        previous: The earlier snapshot, to remember a customer change (a merge).
        rules: The settings (which statuses are paid).

    Returns:
        The snapshot.
    """
    counts, net = order_value(order, rules)
    moved_from = previous.previous_customer_id if previous else None
    if previous is not None and previous.customer_id not in (None, order.customer_id):
        moved_from = previous.customer_id
    return OrderSnapshot(
        shop_domain=order.shop_domain,
        order_id=order.id,
        name=order.name,
        customer_id=order.customer_id,
        contact_customer_id=contact_customer_id,
        previous_customer_id=moved_from,
        created_at=order.created_at,
        updated_at=order.updated_at,
        cancelled=order.cancelled_at is not None,
        refund_ids=frozenset(r.id for r in order.refunds),
        fingerprint=fingerprint(order),
        counts_as_order=counts,
        net_value=net,
        total_price=order.total_price,
        total_refunded=order.total_refunded,
        currency_code=order.currency_code,
        financial_status=order.financial_status,
    )


def order_properties(order: Order) -> dict[str, object]:
    """The attributes an order event carries (id, name, totals, currency, items, status).

    Args:
        order: The order version.

    Returns:
        JSON-ready attributes; money as decimal strings.
    """
    return {
        "order_id": order.id,
        "name": order.name,
        "currency": order.currency_code,
        "total_price": str(order.total_price),
        "subtotal_price": str(order.subtotal_price),
        "total_tax": str(order.total_tax),
        "total_discounts": str(order.total_discounts),
        "current_total_price": str(order.current_total_price),
        "total_refunded": str(order.total_refunded),
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "line_items": [
            {
                "id": li.id,
                "product_id": li.product_id,
                "variant_id": li.variant_id,
                "sku": li.sku,
                "title": li.title,
                "quantity": li.quantity,
                "current_quantity": li.current_quantity,
                "unit_price": str(li.unit_price),
            }
            for li in order.line_items
        ],
    }


def _changes(
    order: Order, previous: OrderSnapshot | None
) -> list[tuple[str, tuple[object, ...], datetime, dict[str, object]]]:
    """(kind, key, time, extra properties) for every change this version shows."""
    changes: list[tuple[str, tuple[object, ...], datetime, dict[str, object]]] = []
    if previous is None:
        changes.append((ORDER_PLACED, (order.id,), order.created_at, {}))
    if order.cancelled_at is not None and (previous is None or not previous.cancelled):
        reason: dict[str, object] = {"cancel_reason": order.cancel_reason}
        changes.append((ORDER_CANCELLED, (order.id,), order.cancelled_at, reason))
    seen = previous.refund_ids if previous else frozenset()
    refunded_so_far = ZERO
    for refund in sorted(order.refunds, key=lambda r: (r.created_at, r.id)):
        refunded_so_far += refund.amount
        if refund.id in seen:
            continue
        full = order.total_price > ZERO and refunded_so_far >= order.total_price
        extra: dict[str, object] = {
            "refund_id": refund.id,
            "refund_amount": str(refund.amount),
            "refund_type": "full" if full else "partial",
        }
        changes.append((ORDER_REFUNDED, (order.id, refund.id), refund.created_at, extra))
    if previous is not None and not changes and previous.fingerprint != fingerprint(order):
        changes.append((ORDER_UPDATED, (order.id, order.updated_at), order.updated_at, {}))
    return changes


def apply_order(
    previous: OrderSnapshot | None,
    order: Order,
    contact_customer_id: int | None,
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> OrderOutcome:
    """Apply one order version: keep its snapshot and derive its events.

    A version no newer than the stored one changes nothing (replays are no-ops). A test
    order (received only with the tap's ``include_test_orders``) is skipped: it counts
    nowhere and produces no events (``test_order``). Cancel and refund versions produce
    those specific events; other real changes an ``Order Updated``. Unpaid orders still
    produce ``Order Placed`` (an order was placed) but add no value. Events outside the
    retention window are suppressed and counted.

    Args:
        previous: The stored snapshot, if any.
        order: The incoming version.
        contact_customer_id: The contact it belongs to (after merges), None if not loaded.
        rules: The settings.
        now: The store's clock.
        cutover: The shop's silent-backfill cut-over point.

    Returns:
        The outcome, snapshot, events and the reasons of suppressed events.
    """
    if order.test:
        return OrderOutcome(outcome=SKIPPED, snapshot=previous, reason=TEST_ORDER)
    if previous is not None and order.updated_at < previous.updated_at:
        # Newer wins: an older version arriving late changes nothing and is counted.
        return OrderOutcome(outcome=SKIPPED, snapshot=previous, reason=STALE_VERSION)
    if previous is not None and order.updated_at == previous.updated_at:
        return OrderOutcome(outcome=UNCHANGED, snapshot=previous)
    snapshot = snapshot_of(order, contact_customer_id, previous, rules)
    outcome = CREATED if previous is None else UPDATED
    changes = _changes(order, previous)
    if contact_customer_id is None or order.customer_id is None:
        reason = GUEST_ORDER if order.customer_id is None else NO_CONTACT
        return OrderOutcome(outcome, snapshot, suppressed=tuple(reason for _ in changes))
    events: list[Event] = []
    suppressed: list[str] = []
    base = order_properties(order)
    for kind, key, occurred_at, extra in changes:
        if not within_retention(occurred_at, now, rules.event_retention_days):
            suppressed.append(OUTSIDE_RETENTION)
            continue
        source_time = order.created_at if kind == ORDER_PLACED else occurred_at
        event = make_event(
            kind=kind,
            key=key,
            shop_domain=order.shop_domain,
            customer_id=contact_customer_id,
            source_customer_id=order.customer_id,
            occurred_at=occurred_at,
            source_time=source_time,
            rules=rules,
            now=now,
            cutover=cutover,
            order_id=order.id,
            properties={**base, **extra},
        )
        events.append(event)
    return OrderOutcome(outcome, snapshot, events=tuple(events), suppressed=tuple(suppressed))
