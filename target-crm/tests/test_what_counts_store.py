"""Paid money only, test orders nowhere: read back from SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, later, order, run_target

NOW = datetime(2024, 4, 1, tzinfo=UTC)


def q(url, sql, **params):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql), params)]
    engine.dispose()
    return rows


def contacts(url):
    rows = q(url, "select customer_id, order_count, lifetime_value from contacts order by 1")
    return [(c, n, Decimal(str(v)).quantize(Decimal("0.01"))) for c, n, v in rows]


def test_unpaid_and_test_orders_add_nothing_and_test_orders_emit_nothing(database_url):
    config = {"database_url": database_url}
    feed = Feed().customers(customer(1), customer(2))
    feed.orders(
        order(11, 1, total="100.00"),
        order(12, 1, total="50.00", financial_status="PENDING"),
        order(13, 1, total="30.00", financial_status="VOIDED"),
        order(14, 1, total="40.00", refunds=[(901, "15.00", later(1))], updated=later(1)),
        order(15, 1, total="20.00", financial_status="AUTHORIZED"),
        order(21, 2, total="70.00", test=True),  # customer 2's only order is a test order
    )
    run_target(config, feed, now=NOW)
    assert contacts(database_url) == [(1, 2, Decimal("125.00")), (2, 0, Decimal("0.00"))]
    placed = q(database_url, "select order_id from events where kind = 'order_placed' order by 1")
    assert placed == [(11,), (12,), (13,), (14,), (15,)]
    assert q(database_url, "select count(*) from events where order_id = 21") == [(0,)]
    assert q(database_url, "select count(*) from orders where order_id = 21") == [(0,)]
    stats = q(
        database_url,
        "select outcome, reason, count from run_stats where stream = 'orders' "
        "and outcome = 'skipped'",
    )
    assert stats == [("skipped", "test_order", 1)]
    listed = "select record_key, reason from skipped_records where stream = 'orders'"
    assert q(database_url, listed) == [(f"{SHOP}/21", "test_order")]
    # A later sync sees the pending order paid: it earns then, once.
    paid = order(12, 1, total="50.00", updated=later(3))
    run_target(config, Feed().orders(paid), now=NOW)
    assert contacts(database_url) == [(1, 3, Decimal("175.00")), (2, 0, Decimal("0.00"))]
    assert q(database_url, "select count(*) from events where kind = 'order_placed'") == [(5,)]


def test_paid_financial_statuses_setting(sqlite_url):
    config = {"database_url": sqlite_url, "paid_financial_statuses": ["PAID", "authorized"]}
    feed = Feed().customers(customer(1))
    feed.orders(
        order(11, 1, total="100.00"),
        order(12, 1, total="20.00", financial_status="AUTHORIZED"),
        order(13, 1, total="30.00", financial_status="PARTIALLY_REFUNDED"),
    )
    run_target(config, feed, now=NOW)
    assert contacts(sqlite_url) == [(1, 2, Decimal("120.00"))]
