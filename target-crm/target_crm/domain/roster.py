"""Roster reconciliation: customers missing from a full roster were deleted or merged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from target_crm.domain.events import CONTACT_DELETED, CONTACT_MERGED, make_event
from target_crm.domain.models import CrmRules, Event

DELETED = "deleted"
MERGED = "merged"


@dataclass(frozen=True)
class Departure:
    """A contact whose customer left the roster, and what became of it."""

    shop_domain: str
    customer_id: int
    fate: str
    merged_into: int | None
    event: Event


def classify_departures(
    shop_domain: str,
    missing: Iterable[int],
    moved_orders: Mapping[int, int],
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> list[Departure]:
    """Decide, for each customer missing from the roster, whether it was merged or deleted.

    A merge in Shopify moves the customer's orders to the kept customer, so the orders
    stream shows them with a new ``customer_id``; a customer that left without its orders
    moving was deleted.

    Args:
        shop_domain: The shop.
        missing: Customer ids the store holds as active but the roster no longer lists.
        moved_orders: Missing customer id -> the customer its orders moved to.
        rules: The settings.
        now: The store's clock (departures are seen now, not in Shopify's past).
        cutover: The shop's silent-backfill cut-over point.

    Returns:
        One departure per missing customer, with its contact event.
    """
    departures: list[Departure] = []
    for customer_id in sorted(set(missing)):
        kept = moved_orders.get(customer_id)
        fate = MERGED if kept is not None and kept != customer_id else DELETED
        kind = CONTACT_MERGED if fate == MERGED else CONTACT_DELETED
        event = make_event(
            kind=kind,
            key=(customer_id,),
            shop_domain=shop_domain,
            customer_id=kept if fate == MERGED and kept is not None else customer_id,
            source_customer_id=customer_id,
            occurred_at=now,
            source_time=now,
            rules=rules,
            now=now,
            cutover=cutover,
            properties={"merged_into": kept} if fate == MERGED else {},
        )
        departures.append(Departure(shop_domain, customer_id, fate, kept, event))
    return departures
