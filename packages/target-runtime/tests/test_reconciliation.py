"""The shared manifest reconciliation rules: the source check, the roster hold, tallies, Check."""

from __future__ import annotations

import dataclasses

import pytest
from target_runtime.reconciliation import (
    Check,
    CheckStatus,
    ManifestCounts,
    ManifestPart,
    StreamTally,
    source_status,
    status_of,
)


@pytest.mark.parametrize(
    ("stream", "before", "after", "emitted", "excluded", "expected"),
    [
        ("orders", 10, 10, 10, {}, CheckStatus.OK),
        ("orders", 10, 8, 8, {"test_order": 1}, CheckStatus.OK),  # after <= 9 <= before
        ("orders", 10, 10, 9, {}, CheckStatus.FAIL),  # one lost
        ("orders", 10, 10, 10, {"test_order": 1}, CheckStatus.FAIL),  # one too many
        ("customers", 10, 12, 11, {}, CheckStatus.FAIL),  # a window's count may not grow
        ("customer_roster", 10, 12, 3, {}, CheckStatus.HELD),  # store moved: deletions wait
        ("customer_roster", 10, 10, 9, {}, CheckStatus.FAIL),  # store still, one missed
        ("customer_roster", 10, 10, 10, {}, CheckStatus.OK),
    ],
)
def test_source_status(
    stream: str,
    before: int,
    after: int,
    emitted: int,
    excluded: dict[str, int],
    expected: CheckStatus,
) -> None:
    part = ManifestPart(stream, "window", before, after, emitted, excluded)
    assert source_status(part) is expected
    assert part.source_reconciles is (expected is not CheckStatus.FAIL)
    assert part.roster_held is (expected is CheckStatus.HELD)


def test_part_accounts_emitted_and_excluded() -> None:
    part = ManifestPart("orders", "window", 10, 10, 7, {"test_order": 2, "gone": 1})
    assert part.accounted == 10
    assert ManifestPart("orders", "window", 3, 3, 3).excluded == {}


def test_roster_complete_needs_a_still_store_read_whole() -> None:
    assert ManifestPart("customer_roster", "full", 5, 5, 5).roster_complete
    assert not ManifestPart("customer_roster", "full", 5, 5, 4).roster_complete
    assert not ManifestPart("customer_roster", "full", 5, 6, 5).roster_complete


def test_tally_accounts_applied_skipped_quarantined() -> None:
    tally = StreamTally("orders", 9, 6, {"test_order": 1, "stale_version": 1}, 1)
    assert tally.accounted == 9
    assert StreamTally("orders").accounted == 0


def test_check_ok_and_text() -> None:
    held = Check("customer_roster", "source:full", CheckStatus.HELD, "deletions held")
    failed = Check("orders", "received", status_of(False), "emitted 3, received 2", expected=3)
    assert held.ok
    assert not failed.ok
    assert status_of(True) is CheckStatus.OK
    assert str(failed) == "orders received FAIL: emitted 3, received 2"
    assert (failed.part, failed.expected, failed.actual) == ("", 3, None)


def test_a_target_record_with_more_fields_shares_the_rules() -> None:
    @dataclasses.dataclass(frozen=True)
    class ShopPart(ManifestCounts):
        shop_domain: str
        stream: str
        shopify_count_before: int
        shopify_count_after: int
        emitted: int
        excluded: dict[str, int]

    part = ShopPart("s.example", "customer_roster", 4, 5, 4, {})
    assert part.roster_held
    assert source_status(part) is CheckStatus.HELD
    assert not ShopPart("s.example", "orders", 4, 4, 3, {}).source_reconciles
