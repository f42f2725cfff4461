"""The books both targets should hold, recomputed from the emulator's snapshot.

Written from the rules as documented (/work/brief rules, target-loyalty/README.md "The
rules", target-crm/README.md), never by importing a target's domain code. Amounts are the
shop currency; the snapshot's money strings are Shopify's own shop-money amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from recompute_pipeline import CASHBACK_PERCENT, SIGNUP_BONUS

PAID = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})  # paid_financial_statuses default
AWAITING = frozenset({"PENDING", "AUTHORIZED", "PARTIALLY_PAID"})  # booked as pending
SKIP_TAGS = frozenset({"skip_loyalty"})  # skip_tags default, matched case-insensitively
ZERO = Decimal(0)
CENT = Decimal("0.01")


def at(text: str | None) -> datetime | None:
    """A snapshot time (ISO 8601, ``Z``) as an aware datetime."""
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Lineage:
    """What one pair of databases has been fed so far (they start empty and fresh).

    ``known_customers`` / ``known_contacts``: customers any earlier sync into these
    databases delivered (as accounts / as contacts); ``merges``: removed -> kept, as done
    through the control API; ``range_start``: a preset's start (orders placed before it are
    not in the books); ``cutover``: the CRM's silent-backfill cut-over, fixed by the first
    complete sync; ``duplicates``: pairs flagged so far (a flag is never taken back).
    """

    known_customers: set[int] = field(default_factory=set)
    known_contacts: set[int] = field(default_factory=set)
    merges: dict[int, int] = field(default_factory=dict)
    range_start: datetime | None = None
    cutover: datetime | None = None
    duplicates: set[tuple[int, int, str]] = field(default_factory=set)


def has_skip_tag(order: dict[str, Any]) -> bool:
    """Whether the order carries a skip tag in any letter case (Shopify tags are)."""
    return any(tag.strip().lower() in SKIP_TAGS for tag in order["tags"])


def in_books(order: dict[str, Any], lineage: Lineage) -> bool:
    """Whether the order was placed inside the preset's range (always, without a preset)."""
    start = lineage.range_start
    return start is None or at(order["created_at"]) >= start


def kept_subtotal(order: dict[str, Any]) -> Decimal:
    """The earning basis after refunds: subtotal (after discounts, no shipping, no tax)
    minus the refunded lines' subtotals; a shipping-only refund takes nothing."""
    refunded = sum(
        (Decimal(line["subtotal"]) for r in order["refunds"] for line in r["refund_line_items"]),
        ZERO,
    )
    return max(ZERO, Decimal(order["subtotal_price"]) - refunded)


def earns(order: dict[str, Any]) -> bool:
    """A customer, not test, no skip tag, and a paid financial status."""
    return (
        order["customer_id"] is not None
        and not order["test"]
        and not has_skip_tag(order)
        and order["financial_status"] in PAID
    )


def order_points(order: dict[str, Any]) -> int:
    """Points the order holds now: 1 per unit kept, rounded down; cancelled: none left."""
    if not earns(order) or order["cancelled_at"]:
        return 0
    return int(kept_subtotal(order).to_integral_value(rounding=ROUND_FLOOR))


def order_spend(order: dict[str, Any]) -> Decimal:
    """Net spend toward tiers and cashback (after refunds and cancellation)."""
    if not earns(order) or order["cancelled_at"]:
        return ZERO
    return kept_subtotal(order)


def awaiting_payment(order: dict[str, Any]) -> bool:
    """Booked as pending: would earn but for its PENDING/AUTHORIZED/PARTIALLY_PAID status."""
    return (
        order["customer_id"] is not None
        and not order["test"]
        and not has_skip_tag(order)
        and not order["cancelled_at"]
        and order["financial_status"] in AWAITING
    )


@dataclass(frozen=True)
class LoyaltyBooks:
    """The expected loyalty books (see :func:`loyalty_books`)."""

    statuses: dict[int, str]
    merged_into: dict[int, int]
    balances: dict[int, int]
    order_points: dict[int, tuple[int, int]]
    net_spend: dict[int, Decimal]
    cashback: dict[int, Decimal]
    pending: frozenset[int]


def account_statuses(
    live: set[int], known: set[int], merges: dict[int, int]
) -> tuple[dict[int, str], dict[int, int]]:
    """Live: active; known but gone: merged when merged away through Shopify, else deleted."""
    statuses = dict.fromkeys(live, "active")
    merged_into = {}
    for cid in known - live:
        if cid in merges:
            statuses[cid], merged_into[cid] = "merged", merges[cid]
        else:
            statuses[cid] = "deleted"
    return statuses, merged_into


def loyalty_books(snapshot: dict[str, Any], lineage: Lineage, as_of: datetime) -> LoyaltyBooks:
    """Every customer is an account with the signup bonus (existing customers included);
    each order it owns now adds its points. Merged-away accounts hold nothing (their rows
    moved, the signup bonus kept once); deleted ones keep theirs until purged. Tier spend:
    net spend of orders placed in the 12 months before ``as_of``."""
    live = {c["id"] for c in snapshot["customers"]}
    statuses, merged_into = account_statuses(live, lineage.known_customers | live, lineage.merges)
    balances = {cid: 0 if s == "merged" else SIGNUP_BONUS for cid, s in statuses.items()}
    window_start = as_of.replace(year=as_of.year - 1)
    spend = dict.fromkeys(live, ZERO)
    points_by_order, cashback, pending = {}, {}, set()
    rate = Decimal(CASHBACK_PERCENT) / 100
    for order in snapshot["orders"]:
        cid = order["customer_id"]
        if cid is None or not in_books(order, lineage):
            continue
        points = order_points(order)
        if points:
            points_by_order[order["id"]] = (cid, points)
            balances[cid] += points
        net = order_spend(order)
        if net and at(order["created_at"]) >= window_start:
            spend[cid] += net
        # Rounding is not documented; points round down, so cashback does, to the cent.
        credit = (net * rate).quantize(CENT, rounding=ROUND_FLOOR)
        if credit:
            cashback[order["id"]] = credit
        if awaiting_payment(order):
            pending.add(order["id"])
    return LoyaltyBooks(
        statuses, merged_into, balances, points_by_order, spend, cashback, frozenset(pending)
    )


# --- CRM ---------------------------------------------------------------------------------


def normalised_email(customer: dict[str, Any]) -> str | None:
    """Trimmed, lower-cased; None when empty (the customer is not a contact)."""
    email = (customer["email"] or "").strip().lower()
    return email or None


def normalised_phone(customer: dict[str, Any]) -> str | None:
    """The generated phones are E.164 already; only E.164 numbers can match."""
    phone = (customer["phone"] or "").replace(" ", "").replace("-", "")
    return phone if phone.startswith("+") and phone[1:].isdigit() else None


def contact_ids(snapshot: dict[str, Any]) -> set[int]:
    """Customers that are contacts under the default identifier (email)."""
    return {c["id"] for c in snapshot["customers"] if normalised_email(c)}


def duplicate_pairs(snapshot: dict[str, Any]) -> set[tuple[int, int, str]]:
    """Pairs of contacts sharing a normalised email (rule email) or else phone (rule phone)."""
    contacts = [c for c in snapshot["customers"] if normalised_email(c)]
    pairs = set()
    for i, a in enumerate(contacts):
        for b in contacts[i + 1 :]:
            low, high = sorted((a["id"], b["id"]))
            if normalised_email(a) == normalised_email(b):
                pairs.add((low, high, "email"))
            elif normalised_phone(a) and normalised_phone(a) == normalised_phone(b):
                pairs.add((low, high, "phone"))
    return pairs


def counts_as_order(order: dict[str, Any]) -> bool:
    """Paid, not cancelled, not fully refunded, not test."""
    return (
        order["financial_status"] in PAID
        and order["financial_status"] != "REFUNDED"
        and not order["cancelled_at"]
        and not order["test"]
    )


def order_value(order: dict[str, Any]) -> Decimal:
    """Paid money only: current total after refunds; cancelled and test orders 0."""
    if order["test"] or order["cancelled_at"] or order["financial_status"] not in PAID:
        return ZERO
    return Decimal(order["current_total_price"])


@dataclass(frozen=True)
class CrmStore:
    """The expected CRM store (see :func:`crm_store`)."""

    statuses: dict[int, str]
    merged_into: dict[int, int]
    order_count: dict[int, int]
    lifetime_value: dict[int, Decimal]
    placed: dict[str, tuple[int, datetime, bool]]
    duplicates: frozenset[tuple[int, int, str]]


def crm_store(snapshot: dict[str, Any], lineage: Lineage) -> CrmStore:
    """Contacts: live customers with an email; every non-test order a contact owns now
    (earlier ones included, whenever the contact appeared) has its Order Placed at its
    original time, triggering automations only when placed after the cut-over."""
    shop = snapshot["shop_domain"]
    live = contact_ids(snapshot)
    statuses, merged_into = account_statuses(live, lineage.known_contacts | live, lineage.merges)
    count, value = dict.fromkeys(live, 0), dict.fromkeys(live, ZERO)
    placed = {}
    for order in snapshot["orders"]:
        cid = order["customer_id"]
        if cid not in live or order["test"] or not in_books(order, lineage):
            continue
        count[cid] += counts_as_order(order)
        value[cid] += order_value(order)
        created = at(order["created_at"])
        triggers = lineage.cutover is not None and created > lineage.cutover
        placed[f"order_placed:{shop}:{order['id']}"] = (cid, created, triggers)
    duplicates = frozenset(lineage.duplicates | duplicate_pairs(snapshot))
    return CrmStore(statuses, merged_into, count, value, placed, duplicates)


def newest_time_seen(snapshot: dict[str, Any], lineage: Lineage, *, tests: bool) -> datetime:
    """The newest Shopify time a complete sync delivered: the CRM's cut-over."""
    times = [at(c["updated_at"]) for c in snapshot["customers"]]
    times += [
        at(o["updated_at"])
        for o in snapshot["orders"]
        if in_books(o, lineage) and (tests or not o["test"])
    ]
    return max(times)
