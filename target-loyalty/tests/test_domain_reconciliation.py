"""How a run ends: the manifest against what the target did, as a table."""

from __future__ import annotations

import pytest
from target_loyalty.domain.reconciliation import (
    CheckStatus,
    ManifestPart,
    RunStatus,
    StreamTally,
    reconcile,
)


def part(stream: str, emitted: int, before: int | None = None, after: int | None = None, **ex):
    b = emitted + sum(ex.values()) if before is None else before
    a = b if after is None else after
    return ManifestPart(stream, "window", b, a, emitted, ex)


def tally(stream: str, received: int, applied: int | None = None, **skipped: int) -> StreamTally:
    done = received - sum(skipped.values()) if applied is None else applied
    return StreamTally(stream, received=received, applied=done, skipped=skipped)


@pytest.mark.parametrize(
    ("parts", "tallies", "status", "failing"),
    [
        ([part("orders", 5)], [tally("orders", 5)], RunStatus.SUCCEEDED, []),
        (
            [part("orders", 5, test_order=2)],
            [tally("orders", 5, awaiting_payment=1, test_order=0)],
            RunStatus.SUCCEEDED,
            [],
        ),
        ([], [tally("orders", 5)], RunStatus.INCOMPLETE, [("orders", "manifest")]),
        ([], [], RunStatus.INCOMPLETE, [("(all)", "manifest")]),
        (
            [part("customers", 2)],
            [tally("customers", 2), tally("orders", 5)],
            RunStatus.INCOMPLETE,
            [("orders", "manifest")],
        ),
        (
            [part("orders", 5)],
            [tally("orders", 4)],
            RunStatus.UNRECONCILED,
            [("orders", "received")],
        ),
        (
            [part("orders", 5)],
            [tally("orders", 5, applied=3)],
            RunStatus.UNRECONCILED,
            [("orders", "accounted")],
        ),
        (
            [part("orders", 5, before=7, after=7)],
            [tally("orders", 5)],
            RunStatus.UNRECONCILED,
            [("orders", "source:window")],
        ),
        ([part("orders", 5, before=6, after=5)], [tally("orders", 5)], RunStatus.SUCCEEDED, []),
        (
            [part("orders", 3), part("customers", 0)],
            [tally("orders", 3)],
            RunStatus.SUCCEEDED,
            [],
        ),
        (
            [part("customers", 4)],
            [tally("customers", 0)],
            RunStatus.UNRECONCILED,
            [("customers", "received")],
        ),
        (
            [part("customer_roster", 5, before=5, after=6)],
            [tally("customer_roster", 5)],
            RunStatus.SUCCEEDED,
            [],
        ),
        (
            [part("customer_roster", 4, before=5, after=5)],
            [tally("customer_roster", 4)],
            RunStatus.UNRECONCILED,
            [("customer_roster", "source:window")],
        ),
    ],
    ids=[
        "everything-adds-up",
        "exclusions-and-skips-add-up",
        "no-manifest-is-incomplete",
        "empty-input-is-incomplete",
        "manifest-missing-a-received-stream",
        "fewer-received-than-emitted",
        "records-unaccounted-for",
        "tap-emitted-fewer-than-shopify-counted",
        "count-dropped-during-the-read",
        "empty-stream-in-manifest",
        "emitted-but-never-received",
        "roster-while-a-customer-signed-up-is-held-not-failed",
        "roster-short-of-a-still-store-fails",
    ],
)
def test_how_a_run_ends(parts, tallies, status, failing):
    got, checks = reconcile(parts, {t.stream: t for t in tallies})
    assert got is status
    assert [(c.stream, c.name) for c in checks if c.status is CheckStatus.FAIL] == failing


def test_a_roster_read_while_the_store_changed_is_held():
    _, checks = reconcile(
        [part("customer_roster", 5, before=5, after=6)],
        {"customer_roster": tally("customer_roster", 5)},
    )
    assert [c.status for c in checks if c.name == "source:window"] == [CheckStatus.HELD]
