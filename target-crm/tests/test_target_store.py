"""The target on SQLite and PostgreSQL: backfill, re-run, changes, identity, quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, later, order, run_target
from target_crm.exceptions import TooManyRejectedRecordsError
from target_crm.report import build_report

NOW = datetime(2024, 4, 1, tzinfo=UTC)


def q(url, sql, **params):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql), params)]
    engine.dispose()
    return rows


def backfill_feed():
    return (
        Feed()
        .customers(customer(1), customer(2), customer(3, email=None))
        .state({"bookmark": 1})
        .orders(order(101, 1), order(102, 2, total="50.00"), order(103, None))
        .state({"bookmark": 2})
        .roster([1, 2, 3])
        .manifest()
    )


def test_backfill_then_rerun_adds_nothing(database_url):
    config = {"database_url": database_url}
    states = run_target(config, backfill_feed(), now=NOW)
    assert states[-1] == {"bookmark": 2}
    assert q(database_url, "select customer_id, status, order_count from contacts order by 1") == [
        (1, "active", 1),
        (2, "active", 1),
    ]
    events = q(database_url, "select event_id, triggers_automations from events order by 1")
    assert [e[0] for e in events] == [
        f"contact_created:{SHOP}:1",
        f"contact_created:{SHOP}:2",
        f"order_placed:{SHOP}:101",
        f"order_placed:{SHOP}:102",
    ]
    assert not any(e[1] for e in events)  # silent backfill
    assert q(database_url, "select reason from skipped_records order by 1") == [
        ("guest_order",),
        ("missing_identifier:email",),
    ]
    assert q(database_url, "select cutover_source from shops") == [("initial_sync",)]
    run_target(config, backfill_feed(), now=NOW)
    assert len(q(database_url, "select 1 from events")) == 4
    assert len(q(database_url, "select 1 from contacts")) == 2
    report = build_report(database_url, SHOP)
    assert report["ok"], report["reconciliation"]
    unchanged = {(s["stream"], s["outcome"]): s["count"] for s in report["statistics"]}
    assert unchanged[("orders", "unchanged")] == 3
    assert unchanged[("customers", "unchanged")] == 2


def test_changes_after_cutover_produce_exact_events(database_url):
    # A store of three contacts: each departure is a third of it, above the 5% default.
    config = {"database_url": database_url, "max_roster_deletion_share": 0.5}
    run_target(config, backfill_feed(), now=NOW)
    consent = {
        "state": "UNSUBSCRIBED",
        "opt_in_level": "SINGLE_OPT_IN",
        "consent_updated_at": "2024-03-05T00:00:00Z",
    }
    changes = (
        Feed()
        .customers(
            customer(1, at=later(5), email="new1@example.com", email_marketing_consent=consent),
            customer(4, at=later(5)),
        )
        .orders(
            order(101, 1, updated=later(5), refunds=[(9001, "40.00", later(5))]),
            order(104, 4, at=later(5), total="20.00"),
            order(102, 1, updated=later(6), cancelled_at=later(6)),  # 2 merged into 1
        )
        .roster([1, 3, 4])
        .manifest()
    )
    run_target(config, changes, now=NOW)
    new_events = q(
        database_url,
        "select kind, customer_id, triggers_automations from events where run_id = "
        "(select run_id from sync_runs order by started_at desc limit 1) order by event_id",
    )
    assert new_events == [
        ("contact_created", 4, True),
        ("contact_merged", 1, True),
        ("contact_updated", 1, True),
        ("order_cancelled", 1, True),
        ("order_placed", 4, True),
        ("order_refunded", 1, True),
    ]
    contacts = q(
        database_url,
        "select customer_id, status, merged_into, email, accepts_email_marketing, order_count, "
        "lifetime_value from contacts order by 1",
    )
    assert [c[:5] for c in contacts] == [
        (1, "active", None, "new1@example.com", False),
        (2, "merged", 1, "customer2@example.com", True),
        (4, "active", None, "customer4@example.com", True),
    ]
    assert [(c[0], c[5], Decimal(str(c[6]))) for c in contacts] == [
        (1, 1, Decimal("60.00")),  # 100 - 40 refunded; order 102 cancelled
        (2, 0, Decimal("0")),
        (4, 1, Decimal("20.00")),
    ]
    # the merged contact's events were folded into the kept contact
    assert q(
        database_url, f"select customer_id from events where event_id = 'order_placed:{SHOP}:102'"
    ) == [(1,)]
    audit = q(
        database_url,
        "select customer_id, new_state, decision from consent_audit "
        "where new_state = 'UNSUBSCRIBED'",
    )
    assert audit == [(1, "UNSUBSCRIBED", "applied")]
    deleted = run_target(config, Feed().roster([1, 4]).manifest(), now=NOW)
    assert deleted == []
    assert q(database_url, "select status from contacts where customer_id = 4") == [("active",)]
    assert q(database_url, "select status from contacts where customer_id = 3") == []
    run_target(config, Feed().roster([1]).manifest(), now=NOW)
    assert q(
        database_url, "select status, deleted_at is not null from contacts where customer_id = 4"
    ) == [("deleted", True)]
    assert build_report(database_url, SHOP)["ok"]


@pytest.mark.parametrize(("policy", "status"), [("flag", "active"), ("merge", "merged")])
def test_identity_resolution_records_duplicates(database_url, policy, status):
    config = {"database_url": database_url, "duplicate_policy": policy}
    feed = Feed().customers(
        customer(1, email="Ann@Example.com"), customer(2, email=" ann@example.COM")
    )
    feed.orders(order(201, 2))
    run_target(config, feed, now=NOW)
    assert q(
        database_url, "select customer_id, matched_customer_id, rule, policy from duplicates"
    ) == [(2, 1, "email", policy)]
    assert q(database_url, "select status from contacts where customer_id = 2") == [(status,)]
    owner = 1 if policy == "merge" else 2
    assert q(database_url, "select customer_id from events where kind = 'order_placed'") == [
        (owner,)
    ]
    assert q(database_url, f"select order_count from contacts where customer_id = {owner}") == [
        (1,)
    ]


def test_bad_records_are_quarantined_naming_the_field(database_url):
    config = {"database_url": database_url, "max_rejected_records": 5}
    bad_money = order(301, 1)
    bad_money["total_price_set"]["shop_money"]["amount"] = 12.5
    feed = Feed().customers(customer(1), customer("x"), customer(2, updated_at="yesterday"))
    feed.orders(bad_money, order(302, 1))
    feed.record("orders", {"id": 5})
    run_target(config, feed.manifest(streams=("customers", "orders")), now=NOW)
    rows = q(database_url, "select stream, record_key, field, reason from quarantine order by id")
    assert [r[:3] for r in rows] == [
        ("customers", f"{SHOP}/x", "id"),
        ("customers", f"{SHOP}/2", "updated_at"),
        ("orders", f"{SHOP}/301", "total_price_set.shop_money.amount"),
        ("orders", "?/5", "shop_domain"),
    ]
    assert "decimal string" in rows[2][3]
    assert q(database_url, "select order_id from orders") == [(302,)]
    assert build_report(database_url)["ok"]


def test_too_many_rejections_fail_the_run_clearly(database_url):
    config = {"database_url": database_url, "max_rejected_records": 1}
    feed = Feed().customers(customer("a"), customer("b"), customer(1))
    with pytest.raises(TooManyRejectedRecordsError, match="more than max_rejected_records=1"):
        run_target(config, feed, now=NOW)
    assert q(database_url, "select status from sync_runs") == [("failed",)]
    assert len(q(database_url, "select 1 from quarantine")) == 2


def test_retention_window_counts_old_orders(database_url):
    config = {"database_url": database_url, "event_retention_days": 20}
    feed = Feed().customers(customer(1)).orders(order(401, 1), order(402, 1, at=later(20)))
    run_target(config, feed, now=NOW)
    assert q(database_url, "select order_id from events where kind = 'order_placed'") == [(402,)]
    stats = {
        (s["outcome"], s["reason"]): s["count"]
        for s in build_report(database_url)["statistics"]
        if s["stream"] == "events"
    }
    assert stats[("suppressed", "outside_retention_window")] == 1
    assert q(database_url, "select order_count from contacts") == [(2,)]


def test_metafields_only_when_configured_and_outbox(database_url):
    meta = [
        {"namespace": "loyalty", "key": "tier", "value": "gold", "type": "single_line_text_field"}
    ]
    config = {
        "database_url": database_url,
        "metafield_attributes": {"loyalty.tier": "loyalty_tier"},
        "destinations": ["moengage", "ometria"],
        "identifier": "shopify_id",
    }
    run_target(
        config,
        Feed().customers(customer(1, metafields=meta, email=None)).orders(order(1, 1)),
        now=NOW,
    )
    assert [
        json.loads(a) if isinstance(a, str) else a
        for (a,) in q(database_url, "select attributes from contacts")
    ] == [{"loyalty_tier": "gold"}]
    outbox = q(database_url, "select destination, entity, status from outbox order by 1, 2")
    assert outbox.count(("moengage", "event", "pending")) == 2
    assert outbox.count(("ometria", "contact", "pending")) == 1


def snapshot(url):
    return (
        q(
            url,
            "select customer_id, status, email, order_count, lifetime_value "
            "from contacts order by 1",
        ),
        q(url, "select event_id, customer_id, triggers_automations from events order by 1"),
        q(url, "select order_id, contact_customer_id, net_value from orders order by 1"),
    )


def rich_feed():
    feed = Feed().customers(customer(1), customer(2), customer(3, email=None))
    feed.state({"bookmark": 1}).orders(order(101, 1), order(102, 2, total="50.00"))
    feed.orders(order(103, None)).state({"bookmark": 2}).customers(
        customer(1, at=later(1), first_name="X"),
        customer(5, email="CUSTOMER1@example.com "),  # a duplicate of 1
        customer(2, at=later(2), email="moved@example.com"),
    )
    return (
        feed.orders(
            order(101, 1, updated=later(2), refunds=[(1, "10.00", later(2))]),
            order(102, 1, updated=later(3)),  # customer 2 merged into 1
            order(104, 5, at=later(3)),
            order(
                101, 1, updated=later(4), refunds=[(1, "10.00", later(2)), (2, "90.00", later(4))]
            ),
            order(105, 1, at=later(4), cancelled_at=later(5), updated=later(5)),
        )
        .roster([1, 3, 5])
        .manifest()
    )  # 2 was merged into 1: its order 102 moved


@pytest.mark.parametrize("batch", [1, 2, 3, 7])
@pytest.mark.parametrize("policy", ["flag", "merge"])
def test_batch_size_does_not_change_the_store(tmp_path, batch, policy):
    small, large = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    config = {"duplicate_policy": policy, "max_roster_deletion_share": 1}
    run_target({**config, "database_url": small, "batch_size_rows": batch}, rich_feed(), now=NOW)
    run_target({**config, "database_url": large}, rich_feed(), now=NOW)
    assert snapshot(small) == snapshot(large)
    contacts = {c[0]: c[1] for c in snapshot(large)[0]}
    assert contacts == {1: "active", 2: "merged", 5: "merged" if policy == "merge" else "active"}
    # and replaying the whole feed changes nothing
    run_target({**config, "database_url": large, "batch_size_rows": batch}, rich_feed(), now=NOW)
    assert snapshot(small) == snapshot(large)


def test_builder_records_pass_the_taps_json_schemas(sqlite_url):
    states = run_target(
        {"database_url": sqlite_url, "validate_records": True}, backfill_feed(), now=NOW
    )
    assert states[-1] == {"bookmark": 2}


def test_crm_owned_consent_and_phone_identifier(database_url):
    config = {
        "database_url": database_url,
        "consent_source_of_truth": "crm",
        "identifier": "phone",
        "default_calling_code": "33",
    }
    first = Feed().customers(customer(1, phone="06 12 34 56 78"), customer(2, phone=None))
    run_target(config, first, now=NOW)
    unsubscribe = {
        "state": "UNSUBSCRIBED",
        "opt_in_level": "SINGLE_OPT_IN",
        "consent_updated_at": "2024-03-09T00:00:00Z",
    }
    second = Feed().customers(
        customer(1, at=later(9), phone="06 12 34 56 78", email_marketing_consent=unsubscribe)
    )
    run_target(config, second, now=NOW)
    assert q(database_url, "select customer_id, phone_normalized from contacts") == [
        (1, "+33612345678")
    ]
    assert q(database_url, "select reason from skipped_records") == [("missing_identifier:phone",)]
    ((accepts,),) = q(database_url, "select accepts_email_marketing from contacts")
    assert bool(accepts) is True  # the CRM owns consent: Shopify's change is audited only
    assert q(
        database_url,
        "select new_state, decision from consent_audit order by recorded_at, new_state",
    ) == [("SUBSCRIBED", "applied"), ("UNSUBSCRIBED", "ignored_crm_is_source_of_truth")]
