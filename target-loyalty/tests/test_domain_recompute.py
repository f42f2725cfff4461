"""Which dates a moved closing clock changes, per the tier period and expiry rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from target_loyalty.domain.model import EvaluationPeriod, LoyaltyRules, Tier
from target_loyalty.domain.recompute import MARGIN, ClockWindows, clock_windows, rules_digest
from target_loyalty.domain.tiers import OrderSpend, net_spend

JUNE = datetime(2024, 6, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def _rules(period: EvaluationPeriod, expiry: int | None = None, metrics: bool = True):
    return LoyaltyRules(
        evaluation_period=period, expiry_days=expiry, update_customer_metrics=metrics
    )


def _inside(moment: datetime, windows: tuple[tuple[datetime, datetime], ...]) -> bool:
    return any(low <= moment <= high for low, high in windows)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (EvaluationPeriod.LIFETIME, ((JUNE - MARGIN, JUNE + timedelta(days=3) + MARGIN),)),
        (EvaluationPeriod.CALENDAR_YEAR, ((JUNE - MARGIN, JUNE + timedelta(days=3) + MARGIN),)),
        (
            EvaluationPeriod.ROLLING_12_MONTHS,
            (
                (JUNE - MARGIN, JUNE + timedelta(days=3) + MARGIN),
                (JUNE - YEAR - MARGIN, JUNE - YEAR + timedelta(days=3) + MARGIN),
            ),
        ),
    ],
)
def test_windows_per_period(period, expected):
    later = JUNE + timedelta(days=3)
    assert clock_windows(_rules(period), JUNE, later) == ClockWindows(expected, ())
    # Moving back covers the same dates.
    assert clock_windows(_rules(period), later, JUNE) == ClockWindows(expected, ())


@pytest.mark.parametrize("period", list(EvaluationPeriod))
def test_an_order_outside_the_windows_counts_the_same_at_both_clocks(period):
    """The windows are exactly where net spend can differ between the two clocks."""
    before, now = JUNE, JUNE + timedelta(days=40)
    windows = clock_windows(_rules(period), before, now)
    assert windows is not None
    for day in range(-800, 200, 3):
        placed = JUNE + timedelta(days=day, hours=5)
        spend = [OrderSpend(placed, net_amount=1)]
        differs = net_spend(spend, period, before) != net_spend(spend, period, now)
        if differs:
            assert _inside(placed, windows.order_dates), placed


def test_a_new_calendar_year_changes_everyone_and_an_unmoved_clock_no_one():
    rules = _rules(EvaluationPeriod.CALENDAR_YEAR)
    assert clock_windows(rules, JUNE, datetime(2025, 1, 2, tzinfo=UTC)) is None
    assert clock_windows(rules, JUNE, JUNE) == ClockWindows()
    assert clock_windows(rules, JUNE, JUNE).empty


def test_expiry_and_metrics_off():
    later = JUNE + timedelta(days=1)
    windows = clock_windows(_rules(EvaluationPeriod.LIFETIME, 30, metrics=False), JUNE, later)
    span = timedelta(days=30)
    assert windows == ClockWindows((), ((JUNE - span - MARGIN, later - span + MARGIN),))


def test_the_digest_follows_the_rules_closing_reads():
    base = LoyaltyRules(tiers=(Tier("Gold", 100, 80, 5),))
    assert rules_digest(base) == rules_digest(LoyaltyRules(tiers=(Tier("Gold", 100, 80, 5),)))
    assert rules_digest(base) != rules_digest(LoyaltyRules(tiers=(Tier("Gold", 100, 80, 6),)))
    assert rules_digest(base) != rules_digest(LoyaltyRules(tiers=base.tiers, expiry_days=30))
    # Earning rules are read when orders are booked, not when closing.
    assert rules_digest(base) == rules_digest(LoyaltyRules(tiers=base.tiers, signup_bonus_points=9))
