"""Marketing consent: one source of truth, newer wins, every change audited (seed 003)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from target_crm.domain.models import Consent, ConsentAudit, ConsentSource

APPLIED = "applied"
STALE = "ignored_older_than_store"
NOT_SOURCE = "ignored_crm_is_source_of_truth"


@dataclass(frozen=True)
class ConsentDecision:
    """The consent the store keeps, and the audit row for the change seen (if any)."""

    consent: Consent | None
    audit: ConsentAudit | None


def _is_newer(incoming: Consent, current: Consent) -> bool:
    # A change without a time cannot prove it is newer; keep what we hold.
    if incoming.updated_at is None:
        return current.updated_at is None
    if current.updated_at is None:
        return True
    return incoming.updated_at > current.updated_at


def audit_id(shop_domain: str, customer_id: int, channel: str, incoming: Consent) -> str:
    """Deterministic id of an audit row, so a replayed change is audited once.

    Args:
        shop_domain: The shop.
        customer_id: The Shopify customer.
        channel: ``email`` or ``sms``.
        incoming: The consent seen in the source.

    Returns:
        ``consent:<shop>:<customer>:<channel>:<state>:<time or none>``.
    """
    stamp = incoming.updated_at.isoformat() if incoming.updated_at else "none"
    return f"consent:{shop_domain}:{customer_id}:{channel}:{incoming.state}:{stamp}"


def decide_consent(
    *,
    shop_domain: str,
    customer_id: int,
    channel: str,
    current: Consent | None,
    incoming: Consent | None,
    source: ConsentSource,
    now: datetime,
) -> ConsentDecision:
    """Apply one channel's consent from Shopify to what the store holds.

    Shopify as source of truth: a change is applied only when it is newer than the stored
    one. CRM as source of truth: Shopify only seeds a contact that has no consent yet.
    Every change seen (a state different from the stored one) is audited with the decision.

    Args:
        shop_domain: The shop.
        customer_id: The Shopify customer.
        channel: ``email`` or ``sms``.
        current: What the store holds.
        incoming: What the Shopify record says.
        source: Which system owns consent.
        now: The store's clock.

    Returns:
        The consent to keep and the audit row (None when nothing changed).
    """
    if incoming is None:
        return ConsentDecision(consent=current, audit=None)
    if current is not None and current.state == incoming.state:
        return ConsentDecision(consent=current, audit=None)
    if current is None:
        decision = APPLIED
    elif source is ConsentSource.CRM:
        decision = NOT_SOURCE
    elif _is_newer(incoming, current):
        decision = APPLIED
    else:
        decision = STALE
    audit = ConsentAudit(
        audit_id=audit_id(shop_domain, customer_id, channel, incoming),
        shop_domain=shop_domain,
        customer_id=customer_id,
        channel=channel,
        previous_state=current.state if current else None,
        new_state=incoming.state,
        consent_updated_at=incoming.updated_at,
        decision=decision,
        recorded_at=now,
    )
    return ConsentDecision(consent=incoming if decision == APPLIED else current, audit=audit)
