"""Earning, refund and cancellation reversal, and ledger reconciliation for one order.

An order's rows (its "family": earn, refund reversals, cancellation reversal,
adjustments) must always sum to what the rules say the order is worth now. Rows are
immutable and keyed, so applying the same order again adds nothing, and an order that
changed in Shopify gets one correcting row for the difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal

from target_loyalty.domain.eligibility import refusal as earning_refusal
from target_loyalty.domain.model import (
    ZERO,
    Discrepancy,
    EarningBasis,
    EntryKind,
    LedgerEntry,
    LoyaltyRules,
    Order,
    OrderOutcome,
    Refund,
)

#: Kinds whose points make up an order's worth; cashback rows carry credit, not points.
ORDER_POINT_KINDS = frozenset(
    {
        EntryKind.EARN,
        EntryKind.REFUND_REVERSAL,
        EntryKind.CANCELLATION_REVERSAL,
        EntryKind.ADJUSTMENT,
    }
)


def order_source(order_id: int) -> str:
    """The ledger source naming an order."""
    return f"order:{order_id}"


def points_for(amount: Decimal, rate: Decimal) -> int:
    """Whole points for an amount: rounded down, never negative."""
    if amount <= ZERO:
        return 0
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


def order_basis(order: Order, basis: EarningBasis) -> Decimal:
    """The order amount that earns points, as placed."""
    return order.subtotal if basis is EarningBasis.SUBTOTAL else order.total


def refund_basis(refund: Refund, basis: EarningBasis) -> Decimal:
    """The part of a refund that reduces the earning basis.

    On the subtotal basis only refunded line items count, so a shipping-only refund
    takes no points; on the total basis everything refunded counts.
    """
    return refund.line_subtotal if basis is EarningBasis.SUBTOTAL else refund.total


def sorted_refunds(order: Order) -> list[Refund]:
    """Refunds in the order they happened (id breaks ties), so cumulation is stable."""
    return sorted(order.refunds, key=lambda r: (r.created_at, r.refund_id))


def net_basis(order: Order, basis: EarningBasis) -> Decimal:
    """What the order is still worth after refunds and cancellation (net spend)."""
    if order.cancelled_at is not None:
        return ZERO
    refunded = sum((refund_basis(r, basis) for r in order.refunds), ZERO)
    return max(ZERO, order_basis(order, basis) - refunded)


def desired_entries(
    order: Order, customer_id: int, rules: LoyaltyRules, rate: Decimal
) -> list[LedgerEntry]:
    """The rows an eligible order should have: earn, one reversal per refund, cancellation.

    A refund reverses the points of the amount it took back: after refunds, the order is
    worth exactly the points of its remaining basis, so reversals never exceed the earn.
    """
    basis = order_basis(order, rules.earning_basis)
    earned = points_for(basis, rate)
    rows = [
        LedgerEntry(
            source=order_source(order.order_id),
            kind=EntryKind.EARN,
            points=earned,
            occurred_at=order.created_at,
            rule=f"{rate} points per {order.currency} on {rules.earning_basis.value}",
            rate=rate,
            customer_id=customer_id,
            order_id=order.order_id,
        )
    ]
    reversals = _refund_reversals(order, customer_id, rules, rate, earned)
    rows.extend(reversals)
    remaining = earned + sum(r.points for r in reversals)
    if order.cancelled_at is not None and remaining > 0:
        rows.append(
            LedgerEntry(
                source=order_source(order.order_id),
                kind=EntryKind.CANCELLATION_REVERSAL,
                points=-remaining,
                occurred_at=order.cancelled_at,
                rule="cancellation reverses what the order still earned",
                customer_id=customer_id,
                order_id=order.order_id,
            )
        )
    return rows


def _refund_reversals(
    order: Order, customer_id: int, rules: LoyaltyRules, rate: Decimal, earned: int
) -> list[LedgerEntry]:
    """One row per refund: the points of the basis it took back, cumulated so that
    rounding never reverses more than the order earned."""
    basis = order_basis(order, rules.earning_basis)
    rows = []
    refunded, reversed_so_far = ZERO, 0
    for refund in sorted_refunds(order):
        refunded += refund_basis(refund, rules.earning_basis)
        reversed_total = earned - points_for(basis - refunded, rate)
        step = reversed_total - reversed_so_far
        reversed_so_far = reversed_total
        if step:
            rows.append(
                LedgerEntry(
                    source=f"refund:{refund.refund_id}",
                    kind=EntryKind.REFUND_REVERSAL,
                    points=-step,
                    occurred_at=refund.created_at,
                    rule="refund reverses the points of the refunded amount",
                    customer_id=customer_id,
                    order_id=order.order_id,
                )
            )
    return rows


def _dedupe(
    existing: Iterable[LedgerEntry], owner: int
) -> dict[tuple[str, EntryKind], LedgerEntry]:
    """Existing point rows by (source, kind); the owner's own row wins a duplicate."""
    pool: dict[tuple[str, EntryKind], LedgerEntry] = {}
    for entry in sorted(existing, key=lambda e: e.customer_id != owner):
        if entry.kind in ORDER_POINT_KINDS:
            pool.setdefault((entry.source, entry.kind), entry)
    return pool


def _earn_rate(
    pool: dict[tuple[str, EntryKind], LedgerEntry], order: Order, rules: LoyaltyRules
) -> Decimal:
    """The rate stored on the order's earn row, so rule changes never rewrite history."""
    earn = pool.get((order_source(order.order_id), EntryKind.EARN))
    if earn is not None and earn.rate is not None:
        return earn.rate
    return rules.points_per_unit


def _correction(
    order: Order, customer_id: int, gap: int, sequence: int
) -> tuple[LedgerEntry, Discrepancy]:
    # Numbered: rows are append-only, so the n-th correction of an order is unique and a
    # replay (gap 0) writes none.
    source = f"{order_source(order.order_id)}@{sequence}"
    entry = LedgerEntry(
        customer_id=customer_id,
        source=source,
        kind=EntryKind.ADJUSTMENT,
        points=gap,
        occurred_at=order.updated_at,
        rule="reconcile: the order changed in Shopify after it was booked",
        order_id=order.order_id,
    )
    note = Discrepancy(
        f"orders:{order.order_id}",
        "amounts",
        f"order already in the ledger changed: corrected by {gap:+d} points",
        corrected=True,
    )
    return entry, note


def apply_order(order: Order, rules: LoyaltyRules, existing: Sequence[LedgerEntry]) -> OrderOutcome:
    """Plan the ledger rows for one order record given the rows already booked for it.

    Args:
        order: The order as Shopify has it now.
        rules: The program rules.
        existing: Every booked row of this order, whichever customer holds it.

    Returns:
        New rows to insert, customers whose rows of this order move to the order's
        customer (a merge moved the order), and discrepancies to record.
    """
    refused = earning_refusal(order, rules)
    refusal = refused.note if refused else None
    skip = refused.reason if refused else None
    notes = [refusal] if refusal else []
    owner = order.customer_id
    if existing and not rules.reconcile_existing_ledger:
        return replace(_unreconciled(order, rules, existing, notes), skip_reason=skip)
    if owner is None:
        return replace(_close_holders(order, existing, notes), skip_reason=skip)
    holders = frozenset(e.customer_id for e in existing) - {owner}
    pool = _dedupe(existing, owner)
    rate = _earn_rate(pool, order, rules)
    desired = desired_entries(order, owner, rules, rate) if refusal is None else []
    fresh = [row for row in desired if (row.source, row.kind) not in pool]
    target = sum(row.intended_points for row in desired)
    booked = sum(e.intended_points for e in pool.values()) + sum(r.points for r in fresh)
    if booked != target:
        sequence = sum(1 for kind in pool.values() if kind.kind is EntryKind.ADJUSTMENT) + 1
        entry, note = _correction(order, owner, target - booked, sequence)
        fresh.append(entry)
        notes.append(note)
    return OrderOutcome(
        new_entries=tuple(fresh),
        reassign_from=holders,
        discrepancies=tuple(notes),
        net_basis=net_basis(order, rules.earning_basis),
        eligible=refusal is None,
        skip_reason=skip,
    )


def _unreconciled(
    order: Order, rules: LoyaltyRules, existing: Sequence[LedgerEntry], notes: list[Discrepancy]
) -> OrderOutcome:
    """reconcile_existing_ledger off: a booked order stays as it is, but we say so."""
    owner = order.customer_id if order.customer_id is not None else -1
    pool = _dedupe(existing, owner)
    rate = _earn_rate(pool, order, rules)
    desired = desired_entries(order, owner, rules, rate) if not notes else []
    target = sum(row.intended_points for row in desired)
    booked = sum(e.intended_points for e in pool.values())
    if booked != target:
        notes.append(
            Discrepancy(
                f"orders:{order.order_id}",
                "amounts",
                f"order changed by {target - booked:+d} points but "
                "reconcile_existing_ledger is off: left as booked",
            )
        )
    return OrderOutcome(
        discrepancies=tuple(notes),
        net_basis=net_basis(order, rules.earning_basis),
        eligible=not notes,
    )


def _close_holders(
    order: Order, existing: Sequence[LedgerEntry], notes: list[Discrepancy]
) -> OrderOutcome:
    """An order that lost its customer (now a guest order) is worth nothing to anyone."""
    fresh: list[LedgerEntry] = []
    for holder in sorted({e.customer_id for e in existing}):
        booked = sum(
            e.intended_points
            for e in existing
            if e.customer_id == holder and e.kind in ORDER_POINT_KINDS
        )
        if booked:
            sequence = sum(
                1 for e in existing if e.customer_id == holder and e.kind is EntryKind.ADJUSTMENT
            )
            entry, note = _correction(order, holder, -booked, sequence + 1)
            fresh.append(entry)
            notes.append(note)
    return OrderOutcome(new_entries=tuple(fresh), discrepancies=tuple(notes))


def clamp_to_balance(entries: Sequence[LedgerEntry], balances: dict[int, int]) -> list[LedgerEntry]:
    """Stop reversals at zero when balances may not go negative.

    What a reversal could not take is kept on the row as ``uncollected``, so
    reconciliation still sees what the rule asked for and never re-books it.

    Args:
        entries: Rows in application order.
        balances: Current balance per customer; updated in place as rows apply.

    Returns:
        The rows as they will be stored.
    """
    out = []
    for asked in entries:
        entry = asked
        balance = balances.get(entry.customer_id, 0)
        if entry.points < 0 and balance + entry.points < 0:
            applied = -max(balance, 0)
            entry = replace(asked, points=applied, uncollected=applied - asked.points)
        balances[entry.customer_id] = balance + entry.points
        out.append(entry)
    return out
