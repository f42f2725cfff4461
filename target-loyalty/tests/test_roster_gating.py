"""A roster deletes only when complete, never too much, never when stale."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loyalty_records import (
    SHOP,
    Messages,
    customer,
    manifest_row,
    query,
    run_target,
    with_manifest,
)
from target_loyalty.exceptions import RosterDeletionRefusedError


def config(url: str, **extra: object) -> dict[str, object]:
    return {"database_url": url, "as_of": "2024-06-01T00:00:00Z", **extra}


def statuses(url: str) -> dict[str, int]:
    rows = query(
        url,
        "SELECT status, count(*) FROM loyalty_accounts WHERE shop_domain = :s GROUP BY status",
        s=SHOP,
    )
    return {status: int(n) for status, n in rows}


def books(url: str, count: int) -> None:
    ids = range(1, count + 1)
    messages = Messages().records("customers", *(customer(i) for i in ids)).roster(1000, *ids)
    run_target(
        config(url),
        with_manifest(
            messages, manifest_row("customers", count), manifest_row("customer_roster", count)
        ),
    )
    assert statuses(url) == {"active": count}


def roster_run(ids: list[int], version: int, row: dict | None) -> Messages:
    messages = Messages().roster(version, *ids)
    return with_manifest(messages, row) if row else messages


def last_run(url: str) -> tuple:
    [run] = query(
        url,
        "SELECT status, error, customers_deleted FROM loyalty_sync_runs "
        "ORDER BY started_at DESC LIMIT 1",
    )
    return tuple(run)


def test_a_small_store_roster_does_not_wipe_a_big_store(database_url):
    """The issue's scenario: a 200-customer demo run into the 3,000-customer books."""
    books(database_url, 3000)
    small = list(range(1, 201))
    message = (
        f"roster of {SHOP} would delete 2,800 of 3,000 live accounts (93.3%), more than "
        "max_roster_deletion_share=0.05; set it higher to allow this"
    )
    with pytest.raises(RosterDeletionRefusedError) as refused:
        run_target(
            config(database_url), roster_run(small, 2000, manifest_row("customer_roster", 200))
        )
    assert str(refused.value) == message
    assert statuses(database_url) == {"active": 3000}
    assert query(database_url, "SELECT count(*) FROM loyalty_ledger")[0][0] == 0
    assert last_run(database_url) == ("failed", message, 0)
    [check] = query(
        database_url,
        "SELECT status, detail FROM loyalty_run_checks WHERE check_name = 'roster_deletions'",
    )
    assert tuple(check) == ("FAIL", message)
    assert query(database_url, "SELECT version FROM loyalty_roster_versions") == [(1000,)]


def test_a_complete_roster_within_the_share_deletes(database_url):
    books(database_url, 40)
    kept = list(range(1, 39))  # 2 of 40 = 5%: at the share, allowed
    run_target(config(database_url), roster_run(kept, 2000, manifest_row("customer_roster", 38)))
    assert statuses(database_url) == {"active": 38, "deleted": 2}
    assert last_run(database_url) == ("succeeded", None, 2)
    assert query(database_url, "SELECT version FROM loyalty_roster_versions") == [(2000,)]


@pytest.mark.parametrize("share", [0.5, Decimal("0.5")], ids=["float", "decimal-from-config-file"])
def test_the_share_can_be_raised(database_url, share):
    books(database_url, 10)
    run_target(
        config(database_url, max_roster_deletion_share=share),
        roster_run([1, 2, 3, 4, 5], 2000, manifest_row("customer_roster", 5)),
    )
    assert statuses(database_url) == {"active": 5, "deleted": 5}


@pytest.mark.parametrize(
    ("row", "status"),
    [
        (None, "incomplete"),
        (manifest_row("customer_roster", 5, before=6, after=5), "succeeded"),
        (manifest_row("customer_roster", 6), "unreconciled"),
    ],
    ids=["no-manifest", "store-changed-during-read", "records-lost-on-the-way"],
)
def test_an_incomplete_roster_deletes_nothing(database_url, row, status):
    books(database_url, 10)
    cfg = config(database_url, max_roster_deletion_share=1)
    if status == "unreconciled":
        with pytest.raises(Exception, match="customer_roster received FAIL"):
            run_target(cfg, roster_run([1, 2, 3, 4, 5], 2000, row))
    else:
        run_target(cfg, roster_run([1, 2, 3, 4, 5], 2000, row))
    assert statuses(database_url) == {"active": 10}
    assert last_run(database_url)[0] == status
    checks = query(
        database_url,
        "SELECT status FROM loyalty_run_checks WHERE check_name = 'roster_complete'",
    )
    assert sorted(c[0] for c in checks) == ["HELD", "OK"]  # the first run's roster was OK


def test_a_stale_roster_version_is_counted_and_not_applied(database_url):
    books(database_url, 10)
    cfg = config(database_url, max_roster_deletion_share=1)
    run_target(cfg, roster_run(list(range(1, 10)), 3000, manifest_row("customer_roster", 9)))
    assert statuses(database_url) == {"active": 9, "deleted": 1}
    # An older version arriving later (a replayed old output) changes nobody.
    run_target(cfg, roster_run([1, 2, 10], 2000, manifest_row("customer_roster", 3)))
    assert statuses(database_url) == {"active": 9, "deleted": 1}
    assert query(database_url, "SELECT version FROM loyalty_roster_versions") == [(3000,)]
    assert last_run(database_url) == ("succeeded", None, 0)
    stale = query(
        database_url,
        "SELECT count FROM loyalty_run_counts WHERE measure = 'skipped:stale_roster_version'",
    )
    assert stale == [(3,)]
