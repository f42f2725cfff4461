"""Run outcomes from the tap's manifest and the target's tallies (docs/record-contract.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_crm.domain.reconciliation import (
    ManifestPart,
    RunOutcome,
    StreamTally,
    assess_run,
    tally_streams,
    worst,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
SHOP = "s.myshopify.com"


def part(stream="orders", before=10, after=10, emitted=10, excluded=None, name="window"):
    return ManifestPart(
        shop_domain=SHOP,
        run_id="r",
        stream=stream,
        part=name,
        selection="",
        window_start=None,
        window_end=T0,
        shopify_count_before=before,
        shopify_count_after=after,
        emitted=emitted,
        excluded=excluded or {},
        started_at=T0,
        finished_at=T0,
    )


def tally(stream="orders", received=10, applied=10, skipped=None, quarantined=0):
    return {stream: StreamTally(stream, received, applied, skipped or {}, quarantined)}


@pytest.mark.parametrize(
    ("parts", "tallies", "outcome", "failed"),
    [
        ([part()], tally(), RunOutcome.SUCCEEDED, []),
        (
            [part(before=12, after=12, emitted=10, excluded={"test_order": 2})],
            tally(),
            RunOutcome.SUCCEEDED,
            [],
        ),
        ([part(before=11, after=10)], tally(), RunOutcome.SUCCEEDED, []),
        (
            [part(before=12, after=12)],
            tally(),
            RunOutcome.UNRECONCILED,
            [("orders", "window", "source reconciles with Shopify's count")],
        ),
        (
            [part()],
            tally(received=9, applied=9),
            RunOutcome.UNRECONCILED,
            [("orders", "", "received what the tap emitted")],
        ),
        (
            [part()],
            tally(applied=8, skipped={"test_order": 1}),
            RunOutcome.UNRECONCILED,
            [("orders", "", "every received record accounted for")],
        ),
        (
            [part()],
            tally(applied=7, skipped={"stale_version": 2}, quarantined=1),
            RunOutcome.SUCCEEDED,
            [],
        ),
        (
            [
                part(before=6, after=6, emitted=6),
                part(name="refund_sweep", before=4, after=4, emitted=4),
            ],
            tally(),
            RunOutcome.SUCCEEDED,
            [],
        ),
        ([], tally(), RunOutcome.INCOMPLETE, []),
        ([part("customers", 0, 0, 0)], tally(), RunOutcome.INCOMPLETE, []),
        ([part("customers", 0, 0, 0)], {}, RunOutcome.SUCCEEDED, []),
        (
            [part("customer_roster", before=10, after=11)],
            tally("customer_roster"),
            RunOutcome.SUCCEEDED,
            [],
        ),
        (
            [part("customer_roster", before=10, after=10, emitted=9)],
            tally("customer_roster", received=9, applied=9),
            RunOutcome.UNRECONCILED,
            [("customer_roster", "window", "source reconciles with Shopify's count")],
        ),
    ],
    ids=[
        "all-equal",
        "excluded-test-orders-account-for-the-count",
        "store-changed-during-the-read-within-bounds",
        "tap-lost-records",
        "target-received-fewer-than-emitted",
        "a-received-record-unaccounted",
        "skipped-and-quarantined-account",
        "window-and-refund-sweep-add-up",
        "no-manifest-incomplete",
        "manifest-lacks-a-received-stream",
        "resumed-run-with-nothing-new",
        "roster-while-a-customer-signed-up-is-held-not-failed",
        "roster-short-of-a-still-store-fails",
    ],
)
def test_assess_run(parts, tallies, outcome, failed):
    result = assess_run(SHOP, parts, tallies)
    assert result.outcome is outcome
    assert [(c.stream, c.part, c.name) for c in result.checks if not c.ok] == failed
    assert bool(result.message) is (outcome is not RunOutcome.SUCCEEDED)


def test_tally_maps_outcomes():
    stats = [
        ("orders", "received", "", 9),
        ("orders", "created", "", 4),
        ("orders", "unchanged", "", 2),
        ("orders", "skipped", "test_order", 1),
        ("orders", "skipped", "stale_version", 1),
        ("orders", "rejected", "total_price_set", 1),
        ("customer_roster", "received", "", 3),
        ("customer_roster", "listed", "", 3),
        ("customer_roster", "deleted", "absent_from_roster", 2),
    ]
    assert tally_streams(stats) == {
        "orders": StreamTally("orders", 9, 6, {"test_order": 1, "stale_version": 1}, 1),
        "customer_roster": StreamTally("customer_roster", 3, 3, {}, 0),
    }


def test_worst_outcome():
    assert worst([]) is RunOutcome.INCOMPLETE
    assert worst([RunOutcome.SUCCEEDED, RunOutcome.UNRECONCILED]) is RunOutcome.UNRECONCILED
    assert worst([RunOutcome.INCOMPLETE, RunOutcome.SUCCEEDED]) is RunOutcome.INCOMPLETE


counts = st.integers(0, 50)


@given(before=counts, after=counts, emitted=counts, excluded=counts, received=counts, lost=counts)
def test_succeeded_only_when_every_number_adds_up(before, after, emitted, excluded, received, lost):
    p = part(before=before, after=after, emitted=emitted, excluded={"test_order": excluded})
    t = tally(received=received, applied=max(0, received - lost))
    result = assess_run(SHOP, [p], t)
    accounted = lost == 0 or received == 0  # applied is clamped at 0
    adds_up = after <= emitted + excluded <= before and received == emitted and accounted
    assert (result.outcome is RunOutcome.SUCCEEDED) is adds_up
