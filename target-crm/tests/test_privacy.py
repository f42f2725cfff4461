"""Privacy requests: redaction leaves no trace, the books still add up, once only."""

from __future__ import annotations

import json
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, iso, later, order, run_target
from target_crm.domain.privacy import (
    REDACTED_TEXT,
    mentions,
    parse_privacy_request,
    redacted_email,
    scrub,
)
from target_crm.exceptions import RecordRejectedError

NOW = later(days=30)
PERSONAL = ("customer1@example.com", "First1", "Last1", "+33612345678")
PRIVACY_SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "tap-shopify-history/tap_shopify_history/schemas/privacy_requests.json"
    ).read_text()
)


def request(kind: str = "customer_redact", rid: str = "wh-1", **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "shop_domain": SHOP,
        "request_id": rid,
        "kind": kind,
        "customer_id": 1,
        "email": None,
        "phone": None,
        "order_ids": [],
        "data_request_id": None,
        "origin": "webhook",
        "requested_at": iso(later(days=1)),
        "queue_position": 1,
    }
    record.update(over)
    return record


def privacy_feed(*records: dict[str, Any], feed: Feed | None = None) -> Feed:
    feed = feed or Feed()
    feed.lines.append(
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "privacy_requests",
                "schema": PRIVACY_SCHEMA,
                "key_properties": ["shop_domain", "request_id"],
            }
        )
    )
    for r in records:
        feed.lines.append(json.dumps({"type": "RECORD", "stream": "privacy_requests", "record": r}))
    return feed


def backfill(url: str) -> None:
    feed = Feed().customers(
        customer(1, phone="+33612345678"), customer(2), customer(10, first_name="First10")
    )
    feed.orders(
        order(101, 1, total="40.00"),
        order(102, 1, total="60.00"),
        order(201, 2, total="25.00"),
    )
    # A malformed order naming the customer's email lands in quarantine.
    feed.record("orders", {**order(103, 1), "created_at": "not a date"})
    config = {"database_url": url, "destinations": ["moengage", "ometria"]}
    run_target(config, feed.manifest(), now=later(days=1))


def dump(url: str) -> str:
    """Every table and column of the store, as text."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    parts: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    engine.dispose()
    return "\n".join(parts)


def books(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select customer_id, order_count, lifetime_value, shopify_order_count,"
                " shopify_amount_spent from contacts order by customer_id"
            )
        ).all()
        orders = conn.execute(
            sa.text("select order_id, net_value, total_price from orders order by order_id")
        ).all()
    engine.dispose()
    return [(r[0], r[1], Decimal(str(r[2])), r[3], Decimal(str(r[4]))) for r in rows] + [
        (o[0], Decimal(str(o[1])), Decimal(str(o[2]))) for o in orders
    ]


def q(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def traces(text: str, values: tuple[str, ...] = PERSONAL) -> list[str]:
    lowered = text.lower()
    found = [v for v in values if v.lower() in lowered]
    # "First1" also occurs inside "First10": only a whole-word hit counts for names.
    return [
        v
        for v in found
        if "@" in v or "+" in v or any(f"{v}{sep}".lower() in lowered for sep in ' |",')
    ]


def test_a_redaction_leaves_no_trace_and_the_books_unchanged(database_url, tmp_path):
    backfill(database_url)
    before_books = books(database_url)
    before = dump(database_url)
    assert traces(before) == list(PERSONAL)  # the grep can fail
    assert "quarantine:" in before
    assert "customer1@example.com" in before.split("quarantine:")[1]
    run_target({"database_url": database_url}, privacy_feed(request()), now=NOW)
    after = dump(database_url)
    assert traces(after) == []
    assert books(database_url) == before_books
    assert "customer2@example.com" in after
    assert "First10" in after
    assert q(database_url, "select email, first_name, phone from contacts where customer_id=1") == [
        ("redacted-1@redacted.invalid", None, None)
    ]
    audit = q(
        database_url,
        "select request_id, kind, customer_id, outcome, counts from crm_privacy_requests",
    )
    assert [a[:4] for a in audit] == [("wh-1", "customer_redact", 1, "applied")]
    counts = audit[0][4] if isinstance(audit[0][4], dict) else json.loads(audit[0][4])
    assert counts["contacts"] == 1
    assert counts["quarantine"] >= 1
    assert counts["events"] >= 1
    # The contact's and its events' pending outbox rows will not send (counted).
    assert (
        counts["outbox_skipped_redacted"]
        == q(
            database_url,
            "select count(*) from outbox where status='skipped' and last_error='redacted'",
        )[0][0]
    )
    assert counts["outbox_skipped_redacted"] > 0
    assert q(
        database_url,
        "select count(*) from outbox where status='pending' and "
        f"(entity_key='{SHOP}:1' or entity_key in (select event_id from events "
        "where customer_id=1))",
    ) == [(0,)]
    assert q(
        database_url,
        f"select status from outbox where entity='contact' and entity_key='{SHOP}:2'",
    ) == [("pending",), ("pending",)]

    # Twice: nothing changes, the repeat is counted.
    kept = "contacts", "events", "orders", "quarantine", "outbox", "crm_privacy_requests"
    first = {name: q(database_url, f"select * from {name}") for name in kept}
    run_target({"database_url": database_url}, privacy_feed(request()), now=later(days=31))
    assert {name: q(database_url, f"select * from {name}") for name in kept} == first
    assert q(database_url, "select count(*) from crm_privacy_requests") == [(1,)]
    repeats = q(
        database_url,
        "select sum(count) from run_stats where stream='privacy_requests' "
        "and reason='already_applied'",
    )
    assert repeats == [(1,)]

    # An older record of the customer replayed afterwards is stored redacted.
    replay = (
        Feed().customers(customer(1, phone="+33612345678")).orders(order(102, 1, total="60.00"))
    )
    run_target({"database_url": database_url}, replay.manifest(), now=later(days=32))
    assert traces(dump(database_url)) == []
    assert books(database_url) == before_books
    arrived = q(
        database_url,
        "select stream, sum(count) from run_stats where outcome='redacted_on_arrival' "
        "group by stream order by stream",
    )
    assert arrived == [("customers", 1), ("orders", 1)]
    status = q(database_url, "select status from sync_runs order by started_at desc limit 1")
    assert status == [("succeeded",)]


def test_shop_redact_redacts_every_customer_of_the_shop(sqlite_url):
    backfill(sqlite_url)
    before_books = books(sqlite_url)
    assert "customer2@example.com" in dump(sqlite_url)
    shop = request("shop_redact", "wh-shop", customer_id=None)
    run_target({"database_url": sqlite_url}, privacy_feed(shop), now=NOW)
    text = dump(sqlite_url)
    for cid in (1, 2, 10):
        assert f"customer{cid}@example.com" not in text
        assert f"First{cid} " not in text
        assert f"Last{cid}" not in text
    assert books(sqlite_url) == before_books
    assert q(sqlite_url, "select outcome from crm_privacy_requests") == [("applied",)]


def test_customer_delete_is_a_roster_deletion_and_keeps_the_data(sqlite_url):
    backfill(sqlite_url)
    run_target({"database_url": sqlite_url}, privacy_feed(request("customer_delete")), now=NOW)
    rows = q(sqlite_url, "select customer_id, status, email from contacts order by customer_id")
    assert rows[0] == (1, "deleted", "customer1@example.com")
    assert [r[1] for r in rows[1:]] == ["active", "active"]
    assert q(sqlite_url, "select deleted_at is not null from contacts where customer_id=1") == [
        (1,)
    ]


def test_a_request_by_email_only_matches_and_one_matching_nothing_is_no_match(sqlite_url):
    backfill(sqlite_url)
    by_email = request(rid="wh-2", customer_id=None, email=" Customer2@Example.com ")
    nobody = request(rid="wh-3", customer_id=999, queue_position=2)
    run_target({"database_url": sqlite_url}, privacy_feed(by_email, nobody), now=NOW)
    assert q(
        sqlite_url,
        "select request_id, customer_id, outcome from crm_privacy_requests order by request_id",
    ) == [
        ("wh-2", None, "applied"),
        ("wh-3", 999, "no_match"),
    ]
    assert "customer2@example.com" not in dump(sqlite_url)
    # The audit stores nothing personal.
    assert "example.com" not in str(q(sqlite_url, "select * from crm_privacy_requests"))


def test_data_request_export_holds_every_row_about_the_customer(database_url, tmp_path):
    backfill(database_url)
    out = tmp_path / "exports"
    config = {"database_url": database_url, "privacy_export_dir": str(out)}
    ask = request("data_request", "wh-dr", data_request_id=77)
    run_target(config, privacy_feed(ask), now=NOW)
    path = out / SHOP / "wh-dr.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    body = json.loads(path.read_text())
    assert body["data_request_id"] == 77
    direct_orders = q(
        database_url, "select order_id from orders where contact_customer_id=1 order by order_id"
    )
    assert sorted(r["order_id"] for r in body["tables"]["orders"]) == [r[0] for r in direct_orders]
    direct_events = q(database_url, "select event_id from events where customer_id=1")
    assert sorted(r["event_id"] for r in body["tables"]["events"]) == sorted(
        r[0] for r in direct_events
    )
    assert body["tables"]["contacts"][0]["email"] == "customer1@example.com"
    assert all(r["customer_id"] == 1 for r in body["tables"]["contacts"])
    audit = q(database_url, "select outcome, export_path from crm_privacy_requests")
    assert audit == [("exported", str(path))]


def test_a_malformed_request_is_quarantined_naming_the_field(sqlite_url):
    backfill(sqlite_url)
    bad = [
        request(rid="b1", kind="customers/redact"),
        request(rid="b2", customer_id=None),
        request(rid="b3", shop_domain=None),
    ]
    run_target({"database_url": sqlite_url}, privacy_feed(*bad), now=NOW)
    rows = q(
        sqlite_url,
        "select stream, field from quarantine where stream='privacy_requests' order by record_key",
    )
    assert sorted(f for _, f in rows) == ["customer_id", "kind", "shop_domain"]
    assert q(sqlite_url, "select count(*) from crm_privacy_requests") == [(0,)]


def test_privacy_records_without_a_manifest_part_do_not_unreconcile_the_run(sqlite_url):
    feed = Feed().customers(customer(1))
    feed = privacy_feed(request(), feed=feed)
    run_target({"database_url": sqlite_url}, feed.manifest(), now=NOW)
    assert q(sqlite_url, "select status from sync_runs") == [("succeeded",)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "shop/redact"),
        ("kind", None),
        ("request_id", ""),
        ("customer_id", "12"),
        ("order_ids", [1, "2"]),
        ("requested_at", "yesterday"),
    ],
    ids=["bad-kind", "no-kind", "no-request-id", "text-customer-id", "bad-order-ids", "bad-time"],
)
def test_parse_rejects_naming_the_field(field, value):
    with pytest.raises(RecordRejectedError) as caught:
        parse_privacy_request(request(**{field: value}))
    assert caught.value.field == field


def test_parse_accepts_a_shop_redact_without_identifiers():
    parsed = parse_privacy_request(request("shop_redact", customer_id=None))
    assert parsed.kind == "shop_redact"
    assert parsed.customer_id is None
    assert parsed.requested_at == later(days=1)
    assert parsed.requested_at.tzinfo is not None


def test_placeholders_do_not_derive_from_the_data():
    assert redacted_email(5, "wh") == "redacted-5@redacted.invalid"
    assert redacted_email(None, "queue-7") == "redacted-queue-7@redacted.invalid"


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("a@b.example", True),
        ("mail A@B.example now", True),
        ("Ann", True),
        ("Anna", False),
        ("+33612345678", True),
        ("tel +33612345678.", True),
        ("unrelated", False),
    ],
    ids=["email", "email-inside", "name", "longer-name", "phone", "phone-inside", "other"],
)
def test_mentions(text, hit):
    assert mentions(text, frozenset({"a@b.example", "Ann", "+33612345678"})) is hit


def test_scrub_replaces_nested_values_and_counts_them():
    value = {"email": "a@b.example", "items": [{"name": "Ann"}, {"name": "Bob"}], "n": 3}
    new, n = scrub(value, frozenset({"a@b.example", "Ann"}))
    assert n == 2
    assert new == {
        "email": REDACTED_TEXT,
        "items": [{"name": REDACTED_TEXT}, {"name": "Bob"}],
        "n": 3,
    }
