"""A redaction is forwarded to the platforms through the delivery engine, exactly once.

Documented rule (README "Privacy requests", erasure): every platform the contact was sent to
gets one erasure per platform user: MoEngage a Delete User call for each user id the contact
was ever sent under (an email change leaves two), Ometria a GDPR data-deletion request for
the contact's email. The value each carries is cleared from the store once the platform took
it, and the redacted contact is never sent again.
"""

from __future__ import annotations

import pytest
from crm_records import SHOP, Feed, customer, iso, later, order, run_target
from delivery_helpers import moengage_config, ometria_config, outbox
from test_privacy import dump, privacy_feed, request

OLD, NEW = "customer4@example.com", "renamed4@example.com"


def _backfill(config: dict) -> None:
    feed = Feed().customers(customer(3), customer(4))
    run_target(config, feed.orders(order(104, 4, at=later(days=4))).manifest())


def _email_change(config: dict) -> None:
    feed = Feed().customers(customer(4, updated_at=iso(later(days=40)), email=NEW))
    run_target(config, feed.manifest(run_id="tap-run-2", window_end=later(days=41)))


def _redact(config: dict, run: str) -> None:
    feed = privacy_feed(request(rid="wh-redact-4", customer_id=4))
    run_target(config, feed.manifest(run_id=run, window_end=later(days=60)))


@pytest.mark.postgres
def test_moengage_deletes_every_user_id_the_contact_had_once(database_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(database_url, moe)
    _backfill(config)
    _email_change(config)
    _redact(config, "tap-run-3")
    deleted = [d["identity_value"] for d in moe.control.deletions()]
    assert sorted(deleted) == sorted([OLD, NEW])  # both users the contact left on MoEngage
    assert {d["outcome"] for d in moe.control.deletions()} == {"deleted"}
    store = dump(database_url)
    assert OLD not in store  # also in the contact.created event of before the change
    assert NEW not in store  # the erasures' values went with the answer
    erasures = [v for k, v in outbox(database_url, "moengage").items() if k[0] == "erasure"]
    assert [s for s, _ in erasures] == ["sent", "sent"]

    requests_before = len(moe.control.requests())
    _redact(config, "tap-run-4")  # the same request again: nothing sent
    # A later version of the customer (an older source re-synced) is stored redacted and
    # never sent: MoEngage would recreate the deleted user from it.
    feed = Feed().customers(customer(4, updated_at=iso(later(days=70)), first_name="Again"))
    run_target(config, feed.manifest(run_id="tap-run-5", window_end=later(days=71)))
    assert len(moe.control.requests()) == requests_before
    assert len(moe.control.deletions()) == 2


def test_ometria_gets_one_data_deletion_request_for_the_email(sqlite_url, ometria_standin):
    om = ometria_standin
    config = ometria_config(sqlite_url, om)
    _backfill(config)
    _redact(config, "tap-run-2")
    asked = om.control.deletion_requests()
    assert [a["email"] for a in asked] == [OLD]
    assert OLD not in dump(sqlite_url)
    # Ometria's id for the request is kept as the reference (no personal data).
    rows = dump(sqlite_url).splitlines()
    assert any(asked[0]["id"] in line for line in rows if line.startswith("delivery_erasures"))
    posts = len(om.control.requests())
    _redact(config, "tap-run-3")
    assert len(om.control.requests()) == posts
    assert SHOP  # the shop the records name


def test_a_contact_never_sent_gets_no_erasure(sqlite_url, ometria_standin):
    om = ometria_standin
    # Ometria switched on only after the redaction: nothing of the customer was ever there.
    run_target({"database_url": sqlite_url}, Feed().customers(customer(4)).manifest())
    _redact({"database_url": sqlite_url}, "tap-run-2")
    run_target(
        ometria_config(sqlite_url, om),
        Feed().customers(customer(3)).manifest(run_id="tap-run-3", window_end=later(days=61)),
    )
    assert om.control.deletion_requests() == []
    sent_contacts = [r["id"] for r in om.control.records() if r.get("@type") == "contact"]
    assert "4" not in sent_contacts
