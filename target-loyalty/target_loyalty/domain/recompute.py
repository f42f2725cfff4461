"""When the books must be recomputed, and for whom.

After a run closes at clock ``now``, every account's tier, net spend, cashback and expiry
equal what a full recomputation at ``now`` gives. The next run only needs to recompute the
customers whose orders or rows it changed, plus those whose results move because the
clock moved: an order entering or leaving the tier period, a lot reaching its expiry date.
A change of the rules that closing reads invalidates every account (a full recompute).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from target_loyalty.domain.model import EvaluationPeriod, LoyaltyRules
from target_loyalty.domain.tiers import period_start

#: Widening of every window, so rounding of stored times can only add customers.
MARGIN = timedelta(seconds=1)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class ClockWindows:
    """Dates whose effect changed between two closing clocks (inclusive windows).

    Attributes:
        order_dates: An earning order placed in one of these moved into or out of its
            customer's tier period (or past ``now``).
        lot_dates: A positive row dated in one of these reached its expiry date.
    """

    order_dates: tuple[Window, ...] = ()
    lot_dates: tuple[Window, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing changed with the clock."""
        return not self.order_dates and not self.lot_dates


def clock_windows(rules: LoyaltyRules, before: datetime, now: datetime) -> ClockWindows | None:
    """What moving the closing clock from ``before`` to ``now`` changes.

    Returns:
        The windows of dates whose effect changed, or None when every customer may
        change (the tier period crosses a calendar year boundary).
    """
    if before == now:
        return ClockWindows()
    low, high = min(before, now), max(before, now)
    orders: list[Window] = []
    if rules.update_customer_metrics:
        period = rules.evaluation_period
        if period is EvaluationPeriod.CALENDAR_YEAR and low.year != high.year:
            return None
        # Orders up to the clock count (an order after ``now`` does not), so the dates
        # between the two clocks change; a moving period start changes its own window.
        orders.append(_widen(low, high))
        start_low, start_high = period_start(period, low), period_start(period, high)
        if start_low is not None and start_high is not None and start_low != start_high:
            orders.append(_widen(start_low, start_high))
    lots: list[Window] = []
    if rules.expiry_days:
        lifetime = timedelta(days=rules.expiry_days)
        lots.append(_widen(low - lifetime, high - lifetime))
    return ClockWindows(tuple(orders), tuple(lots))


def _widen(low: datetime, high: datetime) -> Window:
    return low - MARGIN, high + MARGIN


def rules_digest(rules: LoyaltyRules) -> str:
    """A fingerprint of the rules closing reads (tiers, period, expiry, metrics).

    Books closed under other rules are recomputed in full by the next close.
    """
    read = (
        rules.tiers,
        rules.evaluation_period.value,
        rules.expiry_days,
        rules.update_customer_metrics,
    )
    return hashlib.sha256(repr(read).encode()).hexdigest()[:32]
