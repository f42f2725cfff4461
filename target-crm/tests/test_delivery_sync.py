"""Delivery end to end in-process: the target over real HTTP to the stand-ins, SQLite and
PostgreSQL. Every contact and event arrives once, a replay sends nothing, and incremental
changes (refund, cancellation, consent change, email change) send exactly those updates.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, iso, later, order, run_target
from delivery_helpers import moengage_config, ometria_config, outbox, store_ids
from target_crm.report import build_report

IDS = range(1, 6)


def _initial() -> Feed:
    feed = Feed().customers(*[customer(i) for i in IDS])
    return feed.orders(*[order(100 + i, i, at=later(days=i)) for i in IDS]).manifest()


def _changes() -> Feed:
    """A partial refund (101), a cancellation (102), an opt-out (3), an email change (4)."""
    at = later(days=40)
    consent = {"state": "UNSUBSCRIBED", "opt_in_level": None, "consent_updated_at": iso(at)}
    feed = Feed().customers(
        customer(3, updated_at=iso(at), email_marketing_consent=consent),
        customer(4, updated_at=iso(at), email="renamed4@example.com"),
    )
    feed.orders(
        order(101, 1, at=later(days=1), updated=at, refunds=[(9001, "40.00", at)]),
        order(102, 2, at=later(days=2), updated=at, cancelled_at=at),
    )
    return feed.manifest(run_id="tap-run-2", window_end=later(days=41))


def _events_of_run(url: str, run: int) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = list(conn.scalars(sa.text("SELECT run_id FROM sync_runs ORDER BY started_at")))
        ids = set(
            conn.scalars(sa.text("SELECT event_id FROM events WHERE run_id = :r"), {"r": runs[run]})
        )
    engine.dispose()
    return ids


def _moengage_event_ids(moe) -> list[str]:
    """Each stored event action named by its store id (order id / refund id / contact)."""
    out = []
    for e in moe.control.events():
        a = e["attributes"]
        if e["action"].startswith("contact."):
            out.append((e["action"], e["customer_id"]))
        else:
            out.append((e["action"], a.get("order_id"), a.get("refund_id")))
    return out


@pytest.mark.postgres
def test_moengage_once_replay_nothing_changes_exactly(database_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(database_url, moe)
    run_target(config, _initial())
    events, _ = store_ids(database_url)
    assert len(events) == 10  # contact.created + Order Placed per customer
    sent = _moengage_event_ids(moe)
    assert len(sent) == len(set(sent)) == len(events)
    profiles = moe.control.profiles()
    assert set(profiles) == {f"customer{i}@example.com" for i in IDS}
    assert {p["order_count"] for p in profiles.values()} == {1}
    placed = [e for e in moe.control.events() if e["action"] == "Order Placed"]
    # The Shopify order time, and the silent-backfill flag on everything before the cut-over.
    assert sorted(e["current_time"] for e in placed) == sorted(
        int(later(days=i).timestamp()) for i in IDS
    )
    assert {e["attributes"]["historical"] for e in moe.control.events()} == {True}

    before = len(moe.control.requests())
    run_target(config, _initial().text().replace("tap-run-1", "tap-run-1b"))
    assert len(moe.control.requests()) == before  # a replay sends nothing

    elements_before = len(moe.control.elements())
    run_target(config, _changes())
    new = moe.control.elements()[elements_before:]
    new_events = [
        (
            e["customer_id"],
            a["action"],
            a["attributes"].get("order_id"),
            a["attributes"].get("refund_id"),
        )
        for e in new
        if e["type"] == "event"
        for a in e["element"]["actions"]
    ]
    assert len(_events_of_run(database_url, 2)) == len(new_events)
    assert sorted(new_events, key=str) == sorted(
        [
            ("customer1@example.com", "Order Refunded", 101, 9001),
            ("customer2@example.com", "Order Cancelled", 102, None),
            ("customer3@example.com", "contact.updated", None, None),
            ("renamed4@example.com", "contact.updated", None, None),
        ],
        key=str,
    )
    assert all(not a["attributes"]["historical"] for a in moe.control.events()[len(sent) :])
    changed = {e["customer_id"] for e in new if e["type"] == "customer"}
    # Lifetime value moved for 1 and 2; consent for 3; 4 is known by its new email now.
    assert changed == {
        "customer1@example.com",
        "customer2@example.com",
        "customer3@example.com",
        "renamed4@example.com",
    }
    profiles = moe.control.profiles()
    assert profiles["customer3@example.com"]["accepts_marketing"] is False
    assert profiles["customer1@example.com"]["lifetime_value"] == 60.0
    assert profiles["customer2@example.com"]["lifetime_value"] == 0.0


@pytest.mark.postgres
def test_ometria_once_replay_nothing_changes_exactly(database_url, ometria_standin):
    om = ometria_standin
    config = ometria_config(database_url, om)
    run_target(config, _initial())
    om.control.drain()
    orders = om.control.records(type="order")
    assert {r["id"]: r["record"]["status"] for r in orders} == {
        str(100 + i): "complete" for i in IDS
    }
    for r in orders:
        i = int(r["id"]) - 100
        assert r["record"]["timestamp"] == later(days=i).isoformat()
        assert r["record"]["is_valid"] is True
        assert r["record"]["grand_total"] == 100.0
        assert r["record"]["customer"] == {"id": str(i), "email": f"customer{i}@example.com"}
    contacts = {r["id"]: r["record"] for r in om.control.records(type="contact")}
    assert set(contacts) == {str(i) for i in IDS}
    assert {c["marketing_optin"] for c in contacts.values()} == {"EXPLICITLY_OPTEDIN"}
    assert all("@force_optin" not in c for c in contacts.values())
    order_receipts = om.control.history(type="order")
    assert len(order_receipts) == 5  # contact events are not sent to Ometria

    before = len(om.control.requests())
    run_target(config, _initial().text().replace("tap-run-1", "tap-run-1b"))
    assert len(om.control.requests()) == before

    history_before = len(om.control.history())
    run_target(config, _changes())
    om.control.drain()
    new = om.control.history()[history_before:]
    assert sorted((h["type"], h["id"]) for h in new) == [
        ("contact", "1"),
        ("contact", "2"),
        ("contact", "3"),
        ("contact", "4"),
        ("order", "101"),
        ("order", "102"),
    ]
    assert all(h["status"] == "stored" for h in new)
    refunded = om.control.record("order", "101")
    assert (refunded["status"], refunded["is_valid"]) == ("partial_refund", True)
    assert refunded["total_refunded"] == 40.0
    assert refunded["timestamp"] == later(days=1).isoformat()  # kept on refunds
    cancelled = om.control.record("order", "102")
    assert (cancelled["status"], cancelled["is_valid"]) == ("cancelled", False)
    assert om.control.record("contact", "3", "shopify-test")["marketing_optin"] == (
        "EXPLICITLY_OPTEDOUT"
    )
    assert om.control.record("contact", "4", "shopify-test")["email"] == "renamed4@example.com"
    entry = next(e for e in build_report(database_url)["delivery"] if e["destination"] == "ometria")
    assert (entry["sent"], entry["accepted"], entry["queued"], entry["rejected"]) == (6, 6, 0, 0)


def test_full_refund_invalidates_the_order_with_line_refunds(sqlite_url, ometria_standin):
    om = ometria_standin
    config = ometria_config(sqlite_url, om)
    run_target(config, _initial())
    at = later(days=50)
    line = {**order(103, 3)["line_items"][0], "current_quantity": 0}
    feed = Feed().orders(
        order(
            103, 3, at=later(days=3), updated=at, refunds=[(9101, "100.00", at)], line_items=[line]
        )
    )
    run_target(config, feed.manifest(run_id="tap-run-3", window_end=later(days=51)))
    om.control.drain()
    record = om.control.record("order", "103")
    assert (record["status"], record["is_valid"]) == ("refunded", False)
    assert record["lineitems"][0]["quantity_refunded"] == 1
    assert record["lineitems"][0]["refunded"] == 100.0
    # The line names Shopify's product and variant (the record builder's ids 1 and 2).
    assert record["lineitems"][0]["product"] == {"id": "1", "sku": "SKU-1", "title": "Widget"}
    assert record["lineitems"][0]["variant_id"] == "2"
    assert outbox(sqlite_url, "ometria")[("event", f"order_refunded:{SHOP}:103:9101")][0] == "sent"
