"""A departed customer's orders moved to several customers: the new owner is chosen by rule.

The rule (README "Rules", shared with target-loyalty): the customer now owning most of the
departed customer's former orders, the lower id on a tie. The expected owner is recomputed
here from the moves, not read from the code.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from crm_records import Feed, customer, later, order, run_target

NOW = datetime(2024, 4, 1, tzinfo=UTC)
DEPARTED = 9


def owner_by_rule(moves: list[int]) -> int:
    counts = Counter(moves)
    best = max(counts.values())
    return min(owner for owner, n in counts.items() if n == best)


@pytest.mark.parametrize(
    "moves",
    [
        pytest.param([2, 3], id="tie-lower-id-wins-over-latest-move"),
        pytest.param([3, 3, 2], id="majority-wins-over-latest-move"),
        pytest.param([2, 3, 3, 2, 3], id="majority-of-five"),
        pytest.param([3], id="single-move"),
    ],
)
def test_merged_into_follows_most_orders_then_lower_id(database_url, moves):
    config = {"database_url": database_url, "max_roster_deletion_share": 1}
    order_ids = [200 + i for i in range(len(moves))]
    backfill = (
        Feed()
        .customers(customer(2), customer(3), customer(DEPARTED))
        .orders(*(order(o, DEPARTED) for o in order_ids))
        .roster([2, 3, DEPARTED])
        .manifest()
    )
    run_target(config, backfill, now=NOW)
    # Moved in list order, each later than the one before: the last move is the newest.
    merged = (
        Feed()
        .orders(
            *(
                order(o, new, updated=later(5 + i))
                for i, (o, new) in enumerate(zip(order_ids, moves, strict=True))
            )
        )
        .roster([2, 3])
        .manifest()
    )
    run_target(config, merged, now=NOW)
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("select status, merged_into from contacts where customer_id = :c"),
            {"c": DEPARTED},
        ).one()
    engine.dispose()
    assert tuple(row) == ("merged", owner_by_rule(moves))
