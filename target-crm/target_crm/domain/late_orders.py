"""Late identifiers: a contact that appears after its customer's orders takes them over.

A customer without the chosen identifier is not loaded, but its orders are stored (with no
contact). When a later version gives the customer the identifier, the contact is created and
its earlier orders join it: they count toward its order count and lifetime value, and their
``Order Placed`` events appear at the orders' original times, silent when placed before the
shop's cut-over, as every historical change is (README "Rules").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from target_crm.domain.events import ORDER_PLACED, make_event, within_retention
from target_crm.domain.models import CrmRules, Event, OrderSnapshot
from target_crm.domain.orders import OUTSIDE_RETENTION


@dataclass(frozen=True)
class JoinedOrders:
    """The orders a new contact takes over, their events, and suppressed event reasons."""

    snapshots: tuple[OrderSnapshot, ...] = ()
    events: tuple[Event, ...] = ()
    suppressed: tuple[str, ...] = ()


def placed_properties(snapshot: OrderSnapshot) -> dict[str, object]:
    """The attributes a late ``Order Placed`` carries: what the store kept of the order.

    Args:
        snapshot: The stored order.

    Returns:
        JSON-ready attributes; money as decimal strings.
    """
    return {
        "order_id": snapshot.order_id,
        "name": snapshot.name,
        "currency": snapshot.currency_code,
        "total_price": str(snapshot.total_price),
        "total_refunded": str(snapshot.total_refunded),
        "financial_status": snapshot.financial_status,
        "joined_late": True,
    }


def join_orders(
    orphans: Iterable[OrderSnapshot],
    owner: int,
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> JoinedOrders:
    """Attach a new contact's earlier orders to it and derive their ``Order Placed`` events.

    Args:
        orphans: The customer's stored orders that have no contact yet.
        owner: The contact they belong to (the customer's, or the one it was merged into).
        rules: The settings.
        now: The store's clock.
        cutover: The shop's silent-backfill cut-over point.

    Returns:
        The re-owned snapshots, the events to store and the reasons of suppressed ones.
    """
    snapshots: list[OrderSnapshot] = []
    events: list[Event] = []
    suppressed: list[str] = []
    for snapshot in sorted(orphans, key=lambda s: (s.created_at, s.order_id)):
        if snapshot.contact_customer_id is not None or snapshot.customer_id is None:
            continue
        snapshots.append(replace(snapshot, contact_customer_id=owner))
        if not within_retention(snapshot.created_at, now, rules.event_retention_days):
            suppressed.append(OUTSIDE_RETENTION)
            continue
        events.append(
            make_event(
                kind=ORDER_PLACED,
                key=(snapshot.order_id,),
                shop_domain=snapshot.shop_domain,
                customer_id=owner,
                source_customer_id=snapshot.customer_id,
                occurred_at=snapshot.created_at,
                source_time=snapshot.created_at,
                rules=rules,
                now=now,
                cutover=cutover,
                order_id=snapshot.order_id,
                properties=placed_properties(snapshot),
            )
        )
    return JoinedOrders(tuple(snapshots), tuple(events), tuple(suppressed))
