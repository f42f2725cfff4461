"""When a roster version may delete: completeness, staleness and the deletion share."""

from __future__ import annotations

import pytest
from target_loyalty.domain.reconciliation import CheckStatus, ManifestPart
from target_loyalty.domain.roster import RosterVersion, deletion_refusal, roster_check


def row(emitted: int, before: int, after: int) -> ManifestPart:
    return ManifestPart("customer_roster", "window", before, after, emitted)


@pytest.mark.parametrize(
    ("roster", "status", "why"),
    [
        (RosterVersion(5, 100, row(100, 100, 100)), CheckStatus.OK, "100 customers"),
        (RosterVersion(5, 100, row(100, 100, 100), last_applied=5), CheckStatus.OK, "100"),
        (RosterVersion(5, 100, None), CheckStatus.HELD, "no sync_manifest row"),
        (RosterVersion(5, 100, row(100, 101, 100)), CheckStatus.HELD, "counted 101 before"),
        (RosterVersion(5, 99, row(99, 99, 100)), CheckStatus.HELD, "and 100 after"),
        (RosterVersion(5, 90, row(100, 100, 100)), CheckStatus.HELD, "target received 90"),
        (
            RosterVersion(5, 100, row(100, 100, 100), last_applied=6),
            CheckStatus.HELD,
            "older than the applied version 6",
        ),
    ],
    ids=[
        "complete",
        "same-version-again",
        "no-manifest",
        "store-grew-during-read",
        "store-changed-during-read",
        "records-lost-on-the-way",
        "stale-version",
    ],
)
def test_a_roster_applies_only_when_complete(roster, status, why):
    check = roster_check(roster)
    assert (check.status, why in check.detail) == (status, True)


@pytest.mark.parametrize(
    ("deletions", "live", "share", "message"),
    [
        (0, 3000, 0.05, None),
        (150, 3000, 0.05, None),
        (151, 3000, 0.05, "would delete 151 of 3,000 live accounts (5.0%)"),
        (2800, 3000, 0.05, "would delete 2,800 of 3,000 live accounts (93.3%)"),
        (2800, 3000, 1.0, None),
        (1, 1, 0.05, "would delete 1 of 1 live accounts (100.0%)"),
        (0, 0, 0.05, None),
    ],
    ids=[
        "nothing-to-delete",
        "exactly-the-share",
        "one-over-the-share",
        "the-wiped-store",
        "share-raised",
        "the-only-account",
        "no-live-accounts",
    ],
)
def test_the_deletion_share_guard(deletions, live, share, message):
    refusal = deletion_refusal("demo-store.myshopify.com", deletions, live, share)
    if message is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert message in refusal
        assert refusal.endswith(
            f"more than max_roster_deletion_share={share}; set it higher to allow this"
        )
