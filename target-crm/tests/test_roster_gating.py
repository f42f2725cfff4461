"""Roster safety: deletions only on a complete manifest row, within the share, newest wins."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, later, order, run_target
from hypothesis import given
from hypothesis import strategies as st
from target_crm.domain.reconciliation import ManifestPart
from target_crm.domain.roster import decide_roster
from target_crm.exceptions import RosterDeletionGuardError

NOW = datetime(2024, 4, 1, tzinfo=UTC)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def part(before=100, after=100, emitted=100):
    return ManifestPart(
        SHOP, "r", "customer_roster", "window", "", None, None, before, after, emitted, {}, T0, T0
    )


@pytest.mark.parametrize(
    ("parts", "received", "version", "last", "departures", "live", "share", "apply", "reason"),
    [
        ([part()], 100, 2, 1, 5, 105, "0.05", True, ""),
        ([], 100, 2, 1, 0, 100, "0.05", False, "roster_without_manifest"),
        ([part(before=101)], 100, 2, 1, 0, 100, "0.05", False, "roster_incomplete"),
        ([part(after=99)], 100, 2, 1, 0, 100, "0.05", False, "roster_incomplete"),
        ([part()], 60, 2, 1, 0, 100, "0.05", False, "roster_incomplete"),
        ([part()], 100, 1, 2, 0, 100, "0.05", False, "stale_roster_version"),
        ([part()], 100, 2, 2, 0, 100, "0.05", True, ""),
        ([part()], 100, 2, None, 6, 106, "0.05", False, "roster_deletion_guard"),
        ([part()], 100, 2, None, 6, 106, "0.06", True, ""),
        ([part()], 100, None, 7, 0, 0, "0.05", True, ""),
    ],
    ids=[
        "complete-within-share",
        "no-manifest-held",
        "store-changed-before-read",
        "store-changed-during-read",
        "tap-killed-mid-roster",
        "older-version-stale",
        "same-version-replay",
        "more-than-share-refused",
        "share-raised-allows",
        "empty-store",
    ],
)
def test_decide_roster(parts, received, version, last, departures, live, share, apply, reason):
    decision = decide_roster(
        SHOP,
        received=received,
        parts=parts,
        version=version,
        last_applied=last,
        departures=departures,
        live=live,
        max_share=Decimal(share),
    )
    assert (decision.apply, decision.reason) == (apply, reason)
    assert decision.fails_run is (reason == "roster_deletion_guard")


def test_guard_message_names_numbers_and_setting():
    decision = decide_roster(
        SHOP,
        received=201,
        parts=[part(201, 201, 201)],
        version=2,
        last_applied=1,
        departures=2799,
        live=3000,
        max_share=Decimal("0.05"),
    )
    assert decision.message == (
        "roster of demo-store.myshopify.com would delete 2,799 of 3,000 live contacts "
        "(93.3%), more than max_roster_deletion_share=0.05; set it higher to allow this"
    )


def q(url, sql):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def live(url):
    return [
        r[0] for r in q(url, "select customer_id from contacts where status = 'active' order by 1")
    ]


def backfill(url, n=40, **config):
    feed = Feed().customers(*(customer(i) for i in range(1, n + 1)))
    feed.orders(*(order(100 + i, i) for i in range(1, n + 1)))
    run_target(
        {"database_url": url, **config}, feed.roster(list(range(1, n + 1))).manifest(), now=NOW
    )


def test_tap_killed_mid_sync_deletes_nothing_and_the_run_is_incomplete(database_url):
    backfill(database_url)
    # The tap dies while reading the roster: 10 of 40 ids, no ACTIVATE_VERSION, no manifest.
    feed = Feed().customers(customer(1, at=later(1), first_name="New"))
    feed.orders(order(101, 1, updated=later(1)))
    feed._schema("customer_roster")
    for cid in range(1, 11):
        rec = {
            "shop_domain": SHOP,
            "id": cid,
            "admin_graphql_api_id": "g",
            "updated_at": "2024-03-01T12:00:00Z",
        }
        feed.lines.append(
            json.dumps({"type": "RECORD", "stream": "customer_roster", "record": rec, "version": 2})
        )
    run_target({"database_url": database_url}, feed, now=NOW)
    assert live(database_url) == list(range(1, 41))
    assert q(database_url, "select status from sync_runs order by started_at") == [
        ("succeeded",),
        ("incomplete",),
    ]
    last = "(select run_id from sync_runs order by started_at desc limit 1)"
    roster_stats = (
        "select outcome, reason, count from run_stats "
        f"where run_id = {last} and stream = 'customer_roster' order by 1"
    )
    assert q(database_url, roster_stats) == [
        ("received", "", 10),
        ("skipped", "roster_without_manifest", 10),
    ]


def test_a_roster_deleting_too_much_fails_and_applies_nothing(database_url):
    backfill(database_url)
    small = Feed().roster([1, 2, 3], version=2).manifest(streams=("customer_roster",))
    with pytest.raises(RosterDeletionGuardError) as error:
        run_target({"database_url": database_url}, small, now=NOW)
    assert str(error.value) == (
        "roster of demo-store.myshopify.com would delete 37 of 40 live contacts (92.5%), "
        "more than max_roster_deletion_share=0.05; set it higher to allow this"
    )
    assert live(database_url) == list(range(1, 41))
    assert q(database_url, "select status from sync_runs order by started_at")[-1] == ("failed",)
    run_target({"database_url": database_url, "max_roster_deletion_share": 0.95}, small, now=NOW)
    assert live(database_url) == [1, 2, 3]


def test_an_incomplete_roster_deletes_nothing(database_url):
    backfill(database_url)
    changed = Feed().roster(list(range(1, 40)), version=2)
    # A customer was deleted while the roster was read: the count moved, so no deletions.
    changed.manifest(streams=("customer_roster",), customer_roster={"shopify_count_after": 38})
    run_target({"database_url": database_url}, changed, now=NOW)
    assert live(database_url) == list(range(1, 41))
    assert q(database_url, "select status from sync_runs order by started_at")[-1] == ("succeeded",)


def test_an_older_roster_version_is_not_applied_and_counted_stale(database_url):
    backfill(database_url, n=40)
    newer = Feed().roster(list(range(1, 40)), version=9).manifest(streams=("customer_roster",))
    run_target({"database_url": database_url}, newer, now=NOW)
    assert live(database_url) == list(range(1, 40))
    older = Feed().roster(list(range(1, 39)), version=5).manifest(streams=("customer_roster",))
    run_target({"database_url": database_url}, older, now=NOW)
    assert live(database_url) == list(range(1, 40))
    last = "(select run_id from sync_runs order by started_at desc limit 1)"
    assert q(
        database_url,
        f"select reason, count from run_stats where run_id = {last} and outcome = 'skipped'",
    ) == [("stale_roster_version", 38)]
    assert q(database_url, "select version from crm_roster_versions") == [(9,)]


@given(
    received=st.integers(0, 60),
    emitted=st.integers(0, 60),
    before=st.integers(0, 60),
    after=st.integers(0, 60),
    departures=st.integers(0, 60),
    live=st.integers(0, 60),
    share=st.sampled_from(["0", "0.05", "0.5", "1"]),
)
def test_a_roster_applies_only_complete_and_within_the_share(
    received, emitted, before, after, departures, live, share
):
    decision = decide_roster(
        SHOP,
        received=received,
        parts=[part(before, after, emitted)],
        version=None,
        last_applied=None,
        departures=departures,
        live=live,
        max_share=Decimal(share),
    )
    complete = received == emitted == before == after
    within = live == 0 or departures <= Decimal(share) * live
    assert decision.apply is (complete and within)
    assert decision.fails_run is (complete and not within)
