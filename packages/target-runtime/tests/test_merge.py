"""The merged owner (target-loyalty README, "merges"): who kept a departed customer's orders."""

from __future__ import annotations

import pytest
from target_runtime.merge import OrderOwnerChange, merged_owner

DEPARTED = 7


def moved(*owners: int | None, previous: int = DEPARTED) -> list[OrderOwnerChange]:
    return [OrderOwnerChange(previous, owner) for owner in owners]


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([], None),
        (moved(DEPARTED, DEPARTED), None),
        (moved(None, None), None),
        (moved(9), 9),
        (moved(9, 5, 9), 9),
        (moved(9, 5), 5),
        (moved(5, 9, 9, 5), 5),
        (moved(None, DEPARTED, 9), 9),
        (moved(3, 3, previous=8) + moved(9), 9),
    ],
    ids=[
        "no former orders: deleted",
        "orders still its own: deleted",
        "orders now guest orders: deleted",
        "one order moved",
        "most orders wins",
        "a tie goes to the lower id",
        "a tie does not depend on read order",
        "guest and own orders do not count",
        "another customer's former orders do not count",
    ],
)
def test_merged_owner(orders, expected):
    assert merged_owner(DEPARTED, orders) == expected
    assert merged_owner(DEPARTED, list(reversed(orders))) == expected
