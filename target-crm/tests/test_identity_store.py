"""Late identifiers, duplicates made by updates, phones: read back from SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from crm_records import Feed, customer, iso, later, order, run_target

NOW = datetime(2024, 4, 1, tzinfo=UTC)


def q(url, sql, **params):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql), params)]
    engine.dispose()
    return rows


def utc(value):
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def aggregates(url):
    rows = q(
        url, "select customer_id, status, order_count, lifetime_value from contacts order by 1"
    )
    return [(c, s, n, Decimal(str(v)).quantize(Decimal("0.01"))) for c, s, n, v in rows]


def test_earlier_orders_join_a_contact_that_appears_later(database_url):
    config = {"database_url": database_url, "automation_cutover": iso(later(2))}
    first = Feed().customers(customer(1, email=None), customer(2))
    first.orders(
        order(11, 1, total="100.00"),
        order(12, 1, total="40.00", financial_status="PENDING"),
        order(13, 1, at=later(3), total="25.00"),
        order(21, 2, total="10.00"),
    )
    run_target(config, first, now=NOW)
    assert aggregates(database_url) == [(2, "active", 1, Decimal("10.00"))]
    # Customer 1 gets an email: its contact appears, and its earlier orders join it.
    run_target(config, Feed().customers(customer(1, at=later(5))), now=NOW)
    assert aggregates(database_url) == [
        (1, "active", 2, Decimal("125.00")),
        (2, "active", 1, Decimal("10.00")),
    ]
    placed = q(
        database_url,
        "select order_id, customer_id, occurred_at, triggers_automations from events "
        "where kind = 'order_placed' and customer_id = 1 order by order_id",
    )
    assert [(o, c, bool(t)) for o, c, _, t in placed] == [
        (11, 1, False),
        (12, 1, False),
        (13, 1, True),  # placed after the cut-over
    ]
    assert [utc(at) for *_, at, _ in placed] == [
        datetime(2024, 3, 1, 12, tzinfo=UTC),
        datetime(2024, 3, 1, 12, tzinfo=UTC),
        later(3),
    ]
    assert q(database_url, "select count(*) from orders where contact_customer_id is null") == [
        (0,)
    ]
    # Replaying both runs changes nothing.
    run_target(config, first, now=NOW)
    run_target(config, Feed().customers(customer(1, at=later(5))), now=NOW)
    assert len(q(database_url, "select 1 from events where kind = 'order_placed'")) == 4


def test_an_email_change_that_makes_a_duplicate_is_flagged(database_url):
    config = {"database_url": database_url}
    run_target(config, Feed().customers(customer(1), customer(2)), now=NOW)
    changed = customer(2, at=later(1), email=" Customer1@Example.com")
    run_target(config, Feed().customers(changed), now=NOW)
    assert q(
        database_url, "select customer_id, matched_customer_id, rule, policy from duplicates"
    ) == [(2, 1, "email", "flag")]
    assert [s for _, s, _, _ in aggregates(database_url)] == ["active", "active"]


def test_an_email_change_that_makes_a_duplicate_merges(database_url):
    config = {"database_url": database_url, "duplicate_policy": "merge"}
    feed = Feed().customers(customer(1), customer(2))
    feed.orders(order(11, 1, total="30.00"), order(21, 2, total="70.00"))
    run_target(config, feed, now=NOW)
    changed = customer(2, at=later(1), email="customer1@example.com")
    run_target(config, Feed().customers(changed), now=NOW)
    assert aggregates(database_url) == [
        (1, "active", 2, Decimal("100.00")),
        (2, "merged", 0, Decimal("0.00")),
    ]
    assert q(database_url, "select merged_into from contacts where customer_id = 2") == [(1,)]
    assert q(database_url, "select count(*) from events where customer_id = 2") == [(0,)]
    assert q(database_url, "select contact_customer_id from orders where order_id = 21") == [(1,)]
    assert q(
        database_url, "select customer_id, matched_customer_id, rule, policy from duplicates"
    ) == [(2, 1, "email", "merge")]


def address(code):
    return {
        "city": "x",
        "province": None,
        "province_code": None,
        "country": code,
        "country_code": code,
        "zip": None,
    }


def test_national_phone_formats_match_by_phone(database_url):
    config = {"database_url": database_url, "default_country": "GB"}
    feed = Feed().customers(
        customer(1, email="a@x.com", phone="+39 06 6982 0000"),
        customer(2, email="b@x.com", phone="06 6982 0000", default_address=address("IT")),
        customer(3, email="c@x.com", phone="+44 (0)7700 900123"),
        customer(4, email="d@x.com", phone="07700 900123", default_address=None),
        customer(5, email="e@x.com", phone="call me"),
        customer(6, email="f@x.com", phone="call me"),
    )
    run_target(config, feed, now=NOW)
    assert q(
        database_url, "select customer_id, matched_customer_id, rule from duplicates order by 1"
    ) == [
        (2, 1, "phone"),
        (4, 3, "phone"),
    ]
    assert q(
        database_url, "select customer_id, phone, phone_normalized from contacts order by 1"
    ) == [
        (1, "+39 06 6982 0000", "+390669820000"),
        (2, "06 6982 0000", "+390669820000"),
        (3, "+44 (0)7700 900123", "+447700900123"),
        (4, "07700 900123", "+447700900123"),
        (5, "call me", None),
        (6, "call me", None),
    ]
