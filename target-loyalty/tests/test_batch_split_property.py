"""Property: any split of the same input into batches books the same ledger."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty_records import Messages, at, customer, ledger, order, refund, run_target

CONFIG = {
    "signup_bonus_points": 5,
    "signup_bonus_existing_customers": True,
    "tiers": [
        {"name": "Base", "entry_threshold": "0", "cashback_percent": "1"},
        {"name": "Top", "entry_threshold": "80", "retain_threshold": "60", "cashback_percent": "3"},
    ],
    "tier_evaluation_period": "lifetime",
    "as_of": "2024-06-01T00:00:00Z",
}


@st.composite
def order_versions(draw):
    """Orders re-sent as they change: refunds, cancellations, moves between customers."""
    records = []
    for oid in range(1, draw(st.integers(2, 6)) + 1):
        subtotal = draw(st.integers(1, 120))
        refunds = []
        for version in range(draw(st.integers(1, 3))):
            owner = draw(st.sampled_from([1, 2, 3, None]))
            if draw(st.booleans()):
                refunds.append(refund(oid * 10 + version, str(draw(st.integers(0, subtotal)))))
            cancelled = at(25) if draw(st.integers(0, 5)) == 0 else None
            records.append(
                order(
                    oid,
                    owner,
                    f"{subtotal}.00",
                    created=at(oid),
                    updated=at(oid + version),
                    refunds=list(refunds),
                    cancelled=cancelled,
                )
            )
    return draw(st.permutations(records))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_versions(), st.integers(1, 4))
def test_any_batch_split_books_the_same_ledger(records, batch):
    messages = Messages().records("customers", customer(1), customer(2), customer(3))
    messages.records("orders", *records)
    with tempfile.TemporaryDirectory() as tmp:
        whole = f"sqlite:///{Path(tmp) / 'whole.db'}"
        split = f"sqlite:///{Path(tmp) / 'split.db'}"
        run_target({**CONFIG, "database_url": whole}, messages)
        run_target({**CONFIG, "database_url": split, "batch_size_rows": batch}, messages)
        assert ledger(split) == ledger(whole)
        # And replaying everything once more adds nothing.
        run_target({**CONFIG, "database_url": split, "batch_size_rows": batch}, messages)
        assert ledger(split) == ledger(whole)
