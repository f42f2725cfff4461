"""Which orders earn: a customer, not a test order, no skip tag, and paid.

An order earns points, counts toward tier spend and earns cashback only when every rule
here lets it; otherwise the first rule that refuses it names the reason it is counted
under (``awaiting_payment`` orders earn later, when a sync sees them paid).
"""

from __future__ import annotations

from dataclasses import dataclass

from target_loyalty.domain.model import (
    AWAITING_PAYMENT_STATUSES,
    Discrepancy,
    LoyaltyRules,
    Order,
    SkipReason,
)


@dataclass(frozen=True)
class Refusal:
    """Why an order earns nothing: the counted reason and the discrepancy naming the field."""

    reason: SkipReason
    note: Discrepancy


def refusal(order: Order, rules: LoyaltyRules) -> Refusal | None:
    """The first rule that keeps an order from earning, or None when it earns.

    Args:
        order: The order as Shopify has it now.
        rules: The program rules (skip tags, paid financial statuses).

    Returns:
        The refusal, or None for an order that earns.
    """
    key = f"orders:{order.order_id}"
    if order.customer_id is None:
        return Refusal(
            SkipReason.GUEST_ORDER,
            Discrepancy(key, "customer_id", "guest order: no customer to credit"),
        )
    if order.test:
        return Refusal(SkipReason.TEST_ORDER, Discrepancy(key, "test", "test order earns nothing"))
    # Shopify tags are case-insensitive: `Skip_Loyalty` is the `skip_loyalty` tag.
    tags = {tag.casefold() for tag in order.tags}
    skipped = sorted(tag for tag in rules.skip_tags if tag.casefold() in tags)
    if skipped:
        return Refusal(
            SkipReason.SKIP_TAG, Discrepancy(key, "tags", f"tagged {skipped[0]!r}: earns nothing")
        )
    return _payment_refusal(key, order.financial_status, rules)


def _payment_refusal(key: str, status: str | None, rules: LoyaltyRules) -> Refusal | None:
    if status is not None and status.upper() in rules.paid_financial_statuses:
        return None
    if status is not None and status.upper() in AWAITING_PAYMENT_STATUSES:
        return Refusal(
            SkipReason.AWAITING_PAYMENT,
            Discrepancy(key, "financial_status", f"{status}: awaiting payment, earns once paid"),
        )
    return Refusal(
        SkipReason.NOT_PAID,
        Discrepancy(key, "financial_status", f"{status or 'null'}: not paid, earns nothing"),
    )
