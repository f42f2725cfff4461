"""Contacts: attribute mapping, upsert by Shopify id, identity resolution, consent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from target_crm.domain.consent import decide_consent
from target_crm.domain.events import CONTACT_CREATED, CONTACT_UPDATED, make_event
from target_crm.domain.identity import (
    Resolution,
    customer_phone,
    identifier_value,
    normalize_email,
)
from target_crm.domain.models import (
    Consent,
    ConsentAudit,
    Contact,
    ContactStatus,
    CrmRules,
    Customer,
    DuplicatePair,
    DuplicatePolicy,
    Event,
)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
STALE_VERSION = "stale_version"


@dataclass(frozen=True)
class ContactOutcome:
    """What applying one customer record does to the store."""

    outcome: str
    contact: Contact | None = None
    events: tuple[Event, ...] = ()
    audits: tuple[ConsentAudit, ...] = ()
    duplicate: DuplicatePair | None = None
    reason: str | None = None


def mapped_attributes(customer: Customer, rules: CrmRules) -> dict[str, str]:
    """Metafields copied onto the contact, only those named in ``metafield_attributes``.

    Args:
        customer: The Shopify customer.
        rules: ``metafield_attributes`` maps ``namespace.key`` to an attribute name.

    Returns:
        Attribute name to value.
    """
    return {
        attribute: customer.metafields[source]
        for source, attribute in rules.metafield_attributes.items()
        if source in customer.metafields
    }


def _profile(contact: Contact) -> tuple[object, ...]:
    # The attributes a destination sees; a change here is a contact.updated event.
    return (
        contact.email,
        contact.phone,
        contact.first_name,
        contact.last_name,
        contact.city,
        contact.province,
        contact.country,
        contact.shopify_order_count,
        contact.shopify_amount_spent,
        contact.email_consent.state if contact.email_consent else None,
        contact.sms_consent.state if contact.sms_consent else None,
        contact.tags,
        tuple(sorted(contact.attributes.items())),
        contact.status,
        contact.merged_into,
    )


def _with_customer(base: Contact, customer: Customer, rules: CrmRules) -> Contact:
    return replace(
        base,
        email=customer.email,
        email_normalized=normalize_email(customer.email),
        phone=customer.phone,
        phone_normalized=customer_phone(customer, rules),
        first_name=customer.first_name,
        last_name=customer.last_name,
        city=customer.city,
        province=customer.province,
        country=customer.country,
        shopify_order_count=customer.number_of_orders,
        shopify_amount_spent=customer.amount_spent,
        tags=customer.tags,
        attributes=mapped_attributes(customer, rules),
        shopify_updated_at=customer.updated_at,
    )


def _consents(
    current: Contact | None, customer: Customer, rules: CrmRules, now: datetime
) -> tuple[dict[str, Consent | None], tuple[ConsentAudit, ...]]:
    kept: dict[str, Consent | None] = {}
    audits: list[ConsentAudit] = []
    for channel, incoming in (("email", customer.email_consent), ("sms", customer.sms_consent)):
        held = getattr(current, f"{channel}_consent") if current else None
        decision = decide_consent(
            shop_domain=customer.shop_domain,
            customer_id=customer.id,
            channel=channel,
            current=held,
            incoming=incoming,
            source=rules.consent_source,
            now=now,
        )
        kept[f"{channel}_consent"] = decision.consent
        if decision.audit is not None:
            audits.append(decision.audit)
    return kept, tuple(audits)


def _contact_event(
    kind: str,
    contact: Contact,
    customer: Customer,
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> Event:
    key: tuple[object, ...] = (
        (customer.id,) if kind == CONTACT_CREATED else (customer.id, customer.updated_at)
    )
    # seed 001: contact events carry the time they happened in the store, not Shopify's.
    return make_event(
        kind=kind,
        key=key,
        shop_domain=customer.shop_domain,
        customer_id=contact.merged_into or contact.customer_id,
        source_customer_id=customer.id,
        occurred_at=now,
        source_time=customer.updated_at,
        rules=rules,
        now=now,
        cutover=cutover,
        properties={"email": contact.email, "phone": contact.phone},
    )


def apply_customer(
    existing: Contact | None,
    customer: Customer,
    resolution: Resolution,
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> ContactOutcome:
    """Apply one Shopify customer record to the contact the store holds for it.

    Args:
        existing: The contact with the same Shopify id, if any.
        customer: The incoming record.
        resolution: Identity resolution against other contacts (email, phone).
        rules: The settings.
        now: The store's clock.
        cutover: The shop's silent-backfill cut-over point.

    Returns:
        Created, updated, unchanged (a replay), or skipped with a reason (no identifier;
        ``stale_version``: older than the stored version).
    """
    if existing is None and identifier_value(customer, rules) is None:
        return ContactOutcome(outcome=SKIPPED, reason=f"missing_identifier:{rules.identifier}")
    if existing is not None and customer.updated_at < existing.shopify_updated_at:
        # Newer wins: an older version arriving late changes nothing and is counted.
        return ContactOutcome(outcome=SKIPPED, contact=existing, reason=STALE_VERSION)
    if existing is not None and customer.updated_at == existing.shopify_updated_at:
        return ContactOutcome(outcome=UNCHANGED, contact=existing)
    consents, audits = _consents(existing, customer, rules, now)
    if existing is None:
        return _create(
            customer, resolution, consents, audits, rules=rules, now=now, cutover=cutover
        )
    updated = replace(
        _with_customer(existing, customer, rules),
        updated_in_store_at=now,
        email_consent=consents["email_consent"],
        sms_consent=consents["sms_consent"],
    )
    # An update that makes this customer share an email or phone with another contact is
    # a duplicate exactly as at creation (issue 10 item 7).
    updated, duplicate = (
        apply_duplicate_policy(updated, resolution, rules, now)
        if existing.status is ContactStatus.ACTIVE
        else (updated, None)
    )
    if _profile(updated) == _profile(existing):
        return ContactOutcome(outcome=UNCHANGED, contact=updated, audits=audits)
    event = _contact_event(
        CONTACT_UPDATED, updated, customer, rules=rules, now=now, cutover=cutover
    )
    return ContactOutcome(
        outcome=UPDATED, contact=updated, events=(event,), audits=audits, duplicate=duplicate
    )


def apply_duplicate_policy(
    contact: Contact, resolution: Resolution, rules: CrmRules, now: datetime
) -> tuple[Contact, DuplicatePair | None]:
    """Record a duplicate pair and, with ``duplicate_policy: merge``, fold the contact in.

    Args:
        contact: The contact being created or updated.
        resolution: Identity resolution against the other contacts.
        rules: The settings.
        now: The store's clock.

    Returns:
        The contact (merged into the matched one under ``merge``) and the pair, if any.
    """
    if not resolution.is_duplicate or resolution.matched_customer_id is None:
        return contact, None
    duplicate = DuplicatePair(
        shop_domain=contact.shop_domain,
        customer_id=contact.customer_id,
        matched_customer_id=resolution.matched_customer_id,
        rule=str(resolution.rule),
        policy=rules.duplicate_policy,
        detected_at=now,
    )
    if rules.duplicate_policy is DuplicatePolicy.MERGE:
        contact = replace(
            contact, status=ContactStatus.MERGED, merged_into=resolution.matched_customer_id
        )
    return contact, duplicate


def _create(
    customer: Customer,
    resolution: Resolution,
    consents: dict[str, Consent | None],
    audits: tuple[ConsentAudit, ...],
    *,
    rules: CrmRules,
    now: datetime,
    cutover: datetime | None,
) -> ContactOutcome:
    blank = Contact(
        shop_domain=customer.shop_domain,
        customer_id=customer.id,
        status=ContactStatus.ACTIVE,
        shopify_updated_at=customer.updated_at,
        created_in_store_at=now,
        updated_in_store_at=now,
    )
    contact = replace(
        _with_customer(blank, customer, rules),
        email_consent=consents["email_consent"],
        sms_consent=consents["sms_consent"],
    )
    contact, duplicate = apply_duplicate_policy(contact, resolution, rules, now)
    event = _contact_event(
        CONTACT_CREATED, contact, customer, rules=rules, now=now, cutover=cutover
    )
    return ContactOutcome(
        outcome=CREATED, contact=contact, events=(event,), audits=audits, duplicate=duplicate
    )
