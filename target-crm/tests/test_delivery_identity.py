"""An email change under `identifier: email`: MoEngage's user id changes with it.

Documented rule (README "MoEngage mapping"): the profile and later events go to the new
user id; the change is counted in the delivery report; with `moengage_merge_users` on, a
merge of the old user into the new one is sent once, no sooner than
`moengage_merge_delay_seconds` (default 2 hours) after the new id was first sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crm_records import Feed, customer, iso, later, order, run_target
from delivery_helpers import moengage_config, outbox
from target_crm.report import build_report

OLD, NEW, NEWER = "customer4@example.com", "renamed4@example.com", "again4@example.com"


def _initial() -> Feed:
    feed = Feed().customers(*[customer(i) for i in (3, 4)])
    return feed.orders(order(104, 4, at=later(days=4))).manifest()


def _renamed(email: str, days: int, run: str) -> Feed:
    feed = Feed().customers(customer(4, updated_at=iso(later(days=days)), email=email))
    return feed.manifest(run_id=run, window_end=later(days=days + 1))


def _moengage(database_url: str) -> dict:
    return next(e for e in build_report(database_url)["delivery"] if e["destination"] == "moengage")


def _merge_calls(moe) -> list[dict]:
    return [r for r in moe.control.requests() if r["path"] == "/v1/customer/merge"]


def test_without_merging_the_change_is_counted_and_the_old_user_stays(sqlite_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(sqlite_url, moe)
    run_target(config, _initial())
    run_target(config, _renamed(NEW, 40, "tap-run-2"))
    entry = _moengage(sqlite_url)
    assert (entry["identity_changes"], entry["scheduled"], entry["queued"]) == (1, 0, 0)
    assert _merge_calls(moe) == []
    assert set(moe.control.profiles()) == {"customer3@example.com", OLD, NEW}


@pytest.mark.postgres
def test_merge_waits_for_its_delay_then_goes_once(database_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(database_url, moe, moengage_merge_users=True)
    run_target(config, _initial())
    run_target(config, _renamed(NEW, 40, "tap-run-2"))
    # The new profile went out; the merge waits (not a failure: nothing is queued).
    assert NEW in moe.control.profiles()
    entry = _moengage(database_url)
    assert (entry["identity_changes"], entry["scheduled"], entry["queued"]) == (1, 1, 0)
    assert _merge_calls(moe) == []
    rows = outbox(database_url, "moengage")
    merge_rows = [key for key in rows if key[0] == "merge"]
    assert len(merge_rows) == 1
    assert OLD not in merge_rows[0][1]  # the key names the contact, not the emails
    assert rows[merge_rows[0]][0] == "scheduled"

    # An hour later it is still not due.
    replay = _renamed(NEW, 40, "tap-run-3").text()
    soon = datetime.now(UTC) + timedelta(hours=1)
    run_target(config, replay, now=soon)
    assert _merge_calls(moe) == []

    # Past the two hours (on both clocks): sent once, old into new, not too early.
    moe.control.advance_time(2 * 3600 + 60)
    due = datetime.now(UTC) + timedelta(hours=2, minutes=1)
    run_target(config, replay.replace("tap-run-3", "tap-run-4"), now=due)
    assert [m["merged_user"] for m in moe.control.merges()] == [OLD]
    merged = moe.control.merges()[0]
    assert (merged["retained_user"], merged["outcome"], merged["too_early"]) == (
        NEW,
        "merged",
        False,
    )
    assert rows_status(database_url, "merge") == ["sent"]
    run_target(config, replay.replace("tap-run-3", "tap-run-5"), now=due)
    assert len(_merge_calls(moe)) == 1  # never twice

    # A second change merges the new id into the newer one (MoEngage does not chain merges).
    run_target(config, _renamed(NEWER, 50, "tap-run-6"), now=due)
    moe.control.advance_time(2 * 3600 + 60)
    run_target(
        config, _renamed(NEWER, 50, "tap-run-7").text(), now=due + timedelta(hours=2, minutes=1)
    )
    assert [(m["merged_user"], m["retained_user"]) for m in moe.control.merges()] == [
        (OLD, NEW),
        (NEW, NEWER),
    ]


def test_with_no_delay_the_merge_goes_in_the_same_run(sqlite_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(
        sqlite_url, moe, moengage_merge_users=True, moengage_merge_delay_seconds=0
    )
    run_target(config, _initial())
    run_target(config, _renamed(NEW, 40, "tap-run-2"))
    # Scheduled by the request that sent the new profile, released by the run's last drain.
    assert [(m["merged_user"], m["retained_user"]) for m in moe.control.merges()] == [(OLD, NEW)]
    assert _moengage(sqlite_url)["scheduled"] == 0


def test_a_scheduled_merge_is_skipped_once_merging_is_turned_off(sqlite_url, moengage_standin):
    moe = moengage_standin
    run_target(moengage_config(sqlite_url, moe, moengage_merge_users=True), _initial())
    run_target(
        moengage_config(sqlite_url, moe, moengage_merge_users=True),
        _renamed(NEW, 40, "tap-run-2"),
    )
    due = datetime.now(UTC) + timedelta(hours=3)
    run_target(moengage_config(sqlite_url, moe), _renamed(NEW, 40, "tap-run-3"), now=due)
    assert rows_status(sqlite_url, "merge") == ["skipped"]
    assert _merge_calls(moe) == []


def rows_status(url: str, entity: str) -> list[str]:
    return [v[0] for k, v in outbox(url, "moengage").items() if k[0] == entity]
