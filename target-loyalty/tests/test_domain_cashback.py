"""Cashback eligibility (README, "cashback"): which orders earn it, at which tier's percent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from target_loyalty.domain.model import ZERO, Tier
from target_loyalty.domain.tiers import cashback_percent

SILVER = Tier("silver", Decimal(100), Decimal(50), cashback_percent=Decimal("2.5"))
GOLD = Tier("gold", Decimal(500), Decimal(400), cashback_percent=Decimal(5))
BRONZE = Tier("bronze", ZERO, ZERO)


@pytest.mark.parametrize(
    ("tier_held", "eligible", "expected"),
    [
        (SILVER, True, Decimal("2.5")),
        (GOLD, True, Decimal(5)),
        (BRONZE, True, ZERO),
        (None, True, ZERO),
        (GOLD, False, ZERO),
        (None, False, ZERO),
    ],
    ids=[
        "earning order at silver earns silver's percent",
        "earning order at gold earns gold's percent",
        "a tier without cashback earns none",
        "below every tier earns none",
        "an order that does not earn gets none, whatever the tier",
        "not earning and below every tier",
    ],
)
def test_cashback_percent(tier_held, eligible, expected):
    assert cashback_percent(tier_held, eligible) == expected
