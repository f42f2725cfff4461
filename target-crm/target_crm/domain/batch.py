"""Folding a batch of records over what the store holds, in arrival order.

The sinks load the relevant part of the store, call these folds, and write the result in one
transaction. Because a fold only depends on what the store holds and the records, applying a
stream in one batch or in many gives the same store, and replaying it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from target_crm.domain.contacts import ContactOutcome, apply_customer
from target_crm.domain.identity import (
    Resolution,
    customer_phone,
    normalize_email,
    resolve_contact,
)
from target_crm.domain.models import (
    Contact,
    ContactStatus,
    CrmRules,
    Customer,
    Order,
    OrderSnapshot,
)
from target_crm.domain.orders import OrderOutcome, apply_order

ShopKey = tuple[str, int]
IndexKey = tuple[str, str]


@dataclass
class CustomerBatch:
    """The contacts changed by a batch, and one outcome per record in order."""

    contacts: dict[ShopKey, Contact] = field(default_factory=dict)
    outcomes: list[tuple[Customer, ContactOutcome]] = field(default_factory=list)


@dataclass
class OrderBatch:
    """The order snapshots changed by a batch, and one outcome per record in order."""

    snapshots: dict[ShopKey, OrderSnapshot] = field(default_factory=dict)
    outcomes: list[tuple[Order, OrderOutcome]] = field(default_factory=list)


def fold_customers(
    known: Mapping[ShopKey, Contact],
    email_owners: Mapping[IndexKey, set[int]],
    phone_owners: Mapping[IndexKey, set[int]],
    customers: Iterable[Customer],
    *,
    rules: CrmRules,
    now: datetime,
    cutovers: Mapping[str, datetime | None],
) -> CustomerBatch:
    """Apply customer records in order; later records see the contacts earlier ones made.

    Args:
        known: Stored contacts for the batch's customer ids.
        email_owners: (shop, normalised email) -> customer ids of the active contacts.
        phone_owners: (shop, normalised phone) -> customer ids of the active contacts.
        customers: The parsed records, in arrival order.
        rules: The settings.
        now: The store's clock.
        cutovers: Each shop's silent-backfill cut-over point.

    Returns:
        The changed contacts and the outcome of every record.
    """
    contacts = dict(known)
    emails = {k: set(v) for k, v in email_owners.items()}
    phones = {k: set(v) for k, v in phone_owners.items()}
    batch = CustomerBatch()
    for customer in customers:
        key = (customer.shop_domain, customer.id)
        existing = contacts.get(key)
        resolution = _resolve(customer, existing, emails, phones, rules)
        outcome = apply_customer(
            existing,
            customer,
            resolution,
            rules=rules,
            now=now,
            cutover=cutovers.get(customer.shop_domain),
        )
        batch.outcomes.append((customer, outcome))
        contact = outcome.contact
        if contact is None or contact is existing:
            continue
        contacts[key] = contact
        batch.contacts[key] = contact
        _reindex(emails, phones, existing, contact)
    return batch


def _resolve(
    customer: Customer,
    existing: Contact | None,
    emails: Mapping[IndexKey, set[int]],
    phones: Mapping[IndexKey, set[int]],
    rules: CrmRules,
) -> Resolution:
    # Only a value the customer did not already hold can make a new duplicate: a pair
    # recorded before is not recorded again on every later version.
    email = _norm_key(customer, "email", rules)
    phone = _norm_key(customer, "phone", rules)
    if existing is not None:
        email = "" if email == (existing.email_normalized or "") else email
        phone = "" if phone == (existing.phone_normalized or "") else phone
    shop = customer.shop_domain
    return resolve_contact(
        customer.id,
        set(),
        _owner(emails, (shop, email), customer.id) if email else None,
        _owner(phones, (shop, phone), customer.id) if phone else None,
    )


def _owner(holders: Mapping[IndexKey, set[int]], key: IndexKey, asking: int) -> int | None:
    # The lowest customer id holding a value owns it, as the store's lookup does, so
    # the owner does not depend on how the stream was cut into batches.
    ids = holders.get(key, set()) - {asking}
    return min(ids) if ids else None


def _reindex(
    emails: dict[IndexKey, set[int]],
    phones: dict[IndexKey, set[int]],
    before: Contact | None,
    after: Contact,
) -> None:
    for index, name in ((emails, "email_normalized"), (phones, "phone_normalized")):
        if before is not None and getattr(before, name):
            index.get((before.shop_domain, getattr(before, name)), set()).discard(after.customer_id)
        if after.status is ContactStatus.ACTIVE and getattr(after, name):
            index.setdefault((after.shop_domain, getattr(after, name)), set()).add(
                after.customer_id
            )


def _norm_key(customer: Customer, channel: str, rules: CrmRules) -> str:
    if channel == "email":
        return normalize_email(customer.email) or ""
    return customer_phone(customer, rules) or ""


def merge_links(contacts: Iterable[Contact]) -> dict[ShopKey, int | None]:
    """(shop, customer id) -> the contact it was merged into (None when it was not).

    Args:
        contacts: Contacts the store holds.

    Returns:
        The links ``contact_owner`` follows.
    """
    return {(c.shop_domain, c.customer_id): c.merged_into for c in contacts}


def contact_owner(links: Mapping[ShopKey, int | None], shop: str, customer_id: int) -> int | None:
    """The contact an order's customer belongs to, following merges.

    Args:
        links: (shop, customer id) -> merged into, for the order customers and merge targets;
            a customer absent from it has no contact.
        shop: The shop.
        customer_id: The order's customer.

    Returns:
        The customer id of the owning contact, or None when no contact was loaded.
    """
    if (shop, customer_id) not in links:
        return None
    current, seen = customer_id, {customer_id}
    while (merged_into := links.get((shop, current))) is not None and merged_into not in seen:
        seen.add(merged_into)
        current = merged_into
    return current


def fold_orders(
    known: Mapping[ShopKey, OrderSnapshot],
    links: Mapping[ShopKey, int | None],
    orders: Iterable[Order],
    *,
    rules: CrmRules,
    now: datetime,
    cutovers: Mapping[str, datetime | None],
) -> OrderBatch:
    """Apply order versions in order; a later version of the same order sees the earlier.

    Args:
        known: Stored snapshots for the batch's order ids.
        links: Merge links of the batch's customers (and merge targets): ``merge_links``.
        orders: The parsed records, in arrival order.
        rules: The settings.
        now: The store's clock.
        cutovers: Each shop's silent-backfill cut-over point.

    Returns:
        The changed snapshots and the outcome of every record.
    """
    snapshots = dict(known)
    batch = OrderBatch()
    for order in orders:
        key = (order.shop_domain, order.id)
        owner = (
            contact_owner(links, order.shop_domain, order.customer_id)
            if order.customer_id is not None
            else None
        )
        outcome = apply_order(
            snapshots.get(key),
            order,
            owner,
            rules=rules,
            now=now,
            cutover=cutovers.get(order.shop_domain),
        )
        batch.outcomes.append((order, outcome))
        kept = outcome.snapshot
        if kept is not None and kept is not snapshots.get(key):
            snapshots[key] = kept
            batch.snapshots[key] = kept
    return batch
