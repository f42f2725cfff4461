"""Tiers: net spend over an evaluation period, entry and retain thresholds, cashback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import pairwise

from target_loyalty.domain.model import ZERO, EntryKind, EvaluationPeriod, LedgerEntry, Tier

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderSpend:
    """One order's contribution to spend: its net basis (after refunds) and date."""

    created_at: datetime
    net_amount: Decimal


def period_start(period: EvaluationPeriod, now: datetime) -> datetime | None:
    """The first instant counted by the evaluation period; None for lifetime."""
    if period is EvaluationPeriod.LIFETIME:
        return None
    if period is EvaluationPeriod.CALENDAR_YEAR:
        return now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return now - timedelta(days=365)


def net_spend(spends: Iterable[OrderSpend], period: EvaluationPeriod, now: datetime) -> Decimal:
    """Net spend inside the evaluation period (orders after ``now`` are not counted)."""
    start = period_start(period, now)
    return sum(
        (
            s.net_amount
            for s in spends
            if s.created_at <= now and (start is None or s.created_at >= start)
        ),
        ZERO,
    )


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Reject tier lists whose placement would not be stable.

    Raises:
        ValueError: A retain threshold above its entry threshold, or entry thresholds
            not strictly increasing, naming the tier.
    """
    for tier in tiers:
        if tier.retain_threshold > tier.entry_threshold:
            msg = f"tier {tier.name!r}: retain_threshold must not exceed entry_threshold"
            raise ValueError(msg)
    for lower, upper in pairwise(tiers):
        if upper.entry_threshold <= lower.entry_threshold:
            msg = f"tier {upper.name!r}: entry thresholds must increase down the list"
            raise ValueError(msg)


def evaluate_tier(spend: Decimal, current: str | None, tiers: Sequence[Tier]) -> Tier | None:
    """The tier a customer holds after evaluation.

    A customer may enter any tier whose entry threshold the spend meets, and may keep
    any tier at or below the current one whose retain threshold it meets; the highest
    such tier wins. Tiers are listed from lowest to highest.
    """
    names = [t.name for t in tiers]
    current_rank = names.index(current) if current in names else -1
    placed: Tier | None = None
    for rank, tier in enumerate(tiers):
        enters = spend >= tier.entry_threshold
        retains = rank <= current_rank and spend >= tier.retain_threshold
        if enters or retains:
            placed = tier
    return placed


def floor_cents(amount: Decimal) -> Decimal:
    """Money rounded down to the cent."""
    return amount.quantize(CENT, rounding=ROUND_FLOOR)


def cashback_percent(tier_held: Tier | None, eligible: bool) -> Decimal:
    """The cashback percent an order earns on its net spend.

    Only an order that earns (``eligible``: it has a customer, is paid, not a test order and
    carries no skip tag) earns cashback, at the tier the customer held when it was placed;
    an order placed below every tier, or one that does not (or no longer) earn, gets 0, so
    the cashback it was issued is corrected back to nothing.
    """
    return tier_held.cashback_percent if tier_held is not None and eligible else ZERO


def plan_cashback(
    customer_id: int,
    order_id: int,
    *,
    net_amount: Decimal,
    percent: Decimal,
    booked: Sequence[LedgerEntry],
    occurred_at: datetime,
) -> LedgerEntry | None:
    """The cashback row an order needs so its credit equals ``percent`` of its net spend.

    ``percent`` is the tier the customer held when ordering (see :func:`tier_timeline`),
    a function of the orders alone, so any split of the input into runs converges on the
    same credit. Corrections are numbered, never rewriting an issued row.
    """
    target = floor_cents(net_amount * percent / 100) if net_amount > ZERO else ZERO
    issued = sum((e.cashback for e in booked), ZERO)
    gap = target - issued
    if not gap:
        return None
    source = f"order:{order_id}" if not booked else f"order:{order_id}#{len(booked)}"
    return LedgerEntry(
        customer_id=customer_id,
        source=source,
        kind=EntryKind.CASHBACK,
        points=0,
        occurred_at=occurred_at,
        rule=f"{percent}% cashback on net spend, tier held when ordering",
        order_id=order_id,
        rate=percent,
        cashback=gap,
    )


@dataclass(frozen=True)
class TimedSpend:
    """One order of a customer, for the tier timeline."""

    order_id: int
    created_at: datetime
    net_amount: Decimal


def tier_timeline(
    orders: Sequence[TimedSpend],
    tiers: Sequence[Tier],
    period: EvaluationPeriod,
    now: datetime,
) -> tuple[dict[int, Tier | None], Tier | None]:
    """The tier held when each order was placed, and the tier held now.

    The customer's history is replayed in order-date order: before each order, the tier
    is evaluated on the spend of the earlier orders inside the period (entry and retain
    thresholds, starting from the tier held so far). The result depends only on the
    orders and ``now``, never on when syncs happened to run.
    """
    ordered = sorted(orders, key=lambda o: (o.created_at, o.order_id))
    held: Tier | None = None
    at_order: dict[int, Tier | None] = {}
    for index, current in enumerate(ordered):
        earlier = [OrderSpend(o.created_at, o.net_amount) for o in ordered[:index]]
        spend = net_spend(earlier, period, current.created_at)
        held = evaluate_tier(spend, held.name if held else None, tiers)
        at_order[current.order_id] = held
    everything = [OrderSpend(o.created_at, o.net_amount) for o in ordered]
    final = evaluate_tier(net_spend(everything, period, now), held.name if held else None, tiers)
    return at_order, final
