"""Roster reconciliation: customers missing from a full roster were deleted or merged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from target_crm.domain.events import CONTACT_DELETED, CONTACT_MERGED, make_event
from target_crm.domain.models import CrmRules, Event
from target_crm.domain.reconciliation import ManifestPart

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


HELD_NO_MANIFEST = "roster_without_manifest"
INCOMPLETE = "roster_incomplete"
STALE = "stale_roster_version"
GUARD = "roster_deletion_guard"


@dataclass(frozen=True)
class RosterDecision:
    """Whether a shop's roster of this run may delete, and if not why (a count reason)."""

    apply: bool
    reason: str = ""
    message: str = ""

    @property
    def fails_run(self) -> bool:
        """Only the deletion guard fails the run; the others wait for a later roster."""
        return self.reason == GUARD


def decide_roster(
    shop_domain: str,
    *,
    received: int,
    parts: Sequence[ManifestPart],
    version: int | None,
    last_applied: int | None,
    departures: int,
    live: int,
    max_share: Decimal,
) -> RosterDecision:
    """Apply a roster only when complete, newest, and not deleting too much (README "Rules").

    Args:
        shop_domain: The shop.
        received: Roster records of the shop this run received.
        parts: The manifest parts of the ``customer_roster`` stream for the shop.
        version: The roster version this run activated (None: unversioned).
        last_applied: The newest roster version applied before (None: none).
        departures: Live contacts the roster would delete or merge away.
        live: The shop's live (active) contacts.
        max_share: ``max_roster_deletion_share``.

    Returns:
        Apply, or the reason it is held (and the message when the run must fail).
    """
    if not parts:
        return RosterDecision(False, HELD_NO_MANIFEST)
    emitted = sum(p.emitted for p in parts)
    if not all(p.roster_complete for p in parts) or received != emitted:
        return RosterDecision(False, INCOMPLETE)
    if version is not None and last_applied is not None and version < last_applied:
        return RosterDecision(False, STALE)
    if live > 0 and Decimal(departures) > max_share * live:
        message = (
            f"roster of {shop_domain} would delete {departures:,} of {live:,} live contacts "
            f"({departures / live:.1%}), more than max_roster_deletion_share={max_share}; "
            "set it higher to allow this"
        )
        return RosterDecision(False, GUARD, message)
    return RosterDecision(True)
