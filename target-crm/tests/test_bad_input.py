"""Bad input never stops a run: dead letters, edge validation, stale versions (issue 11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, later, money, order, run_target
from target_crm.exceptions import TooManyRejectedRecordsError

NOW = datetime(2024, 4, 1, tzinfo=UTC)


def q(url, sql):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def hostile_feed():
    feed = Feed().customers(customer(1))
    feed.lines += [
        "this is not json",
        "[1, 2, 3]",
        json.dumps({"type": "RECORD", "stream": "orders", "record": None}),
        '{"type": "RECORD", "stream": "customers", "record": {"id": NaN}}',
        json.dumps({"type": "STATE", "value": "bookmarks"}),
        json.dumps({"type": "STATE", "value": {"bookmarks": ["orders"]}}),
        json.dumps({"type": "RECORD", "stream": "nowhere", "record": {"id": 1}}),
    ]
    feed.customers(customer(2)).orders(order(11, 1), order(12, 2)).state({"good": 1})
    return feed.roster([1, 2]).manifest()


def test_bad_lines_are_dead_lettered_and_the_good_ones_around_them_applied(database_url):
    states = run_target({"database_url": database_url}, hostile_feed(), now=NOW)
    assert states == [{"good": 1}]  # garbage STATE is never passed on
    assert q(database_url, "select customer_id from contacts order by 1") == [(1,), (2,)]
    assert q(database_url, "select order_id from orders order by 1") == [(11,), (12,)]
    letters = q(database_url, "select line_number, reason from crm_dead_letters order by 1")
    assert [n for n, _ in letters] == [3, 4, 5, 6, 7, 8, 9]
    assert "not valid JSON" in letters[0][1]
    assert "RECORD for stream 'nowhere' before its SCHEMA" in letters[-1][1]
    assert q(database_url, "select status from sync_runs") == [("succeeded",)]


def test_dead_letters_count_toward_max_rejected_records(sqlite_url):
    config = {"database_url": sqlite_url, "max_rejected_records": 3}
    with pytest.raises(TooManyRejectedRecordsError, match="dead-lettered"):
        run_target(config, hostile_feed(), now=NOW)
    assert q(sqlite_url, "select count(*) from crm_dead_letters") == [(4,)]
    assert q(sqlite_url, "select status from sync_runs") == [("failed",)]


def bad(over):
    return customer(50, **over)


@pytest.mark.parametrize(
    ("stream", "record", "key", "field", "reason"),
    [
        (
            "customers",
            customer(2**64),
            f"{SHOP}/{2**64}",
            "id",
            "is not an id between 1 and 2**63-1",
        ),
        ("orders", order(-5, 1), f"{SHOP}/-5", "id", "-5 is not an id"),
        (
            "orders",
            order(21, 1, total_price_set=money("1e+30")),
            f"{SHOP}/21",
            "total_price_set.shop_money.amount",
            "1E+30 exceeds the largest amount stored (10**15)",
        ),
        (
            "orders",
            order(22, 1, total_price_set={"shop_money": {"amount": 12.5, "currency_code": "USD"}}),
            f"{SHOP}/22",
            "total_price_set.shop_money.amount",
            "money must be a decimal string, got a JSON number",
        ),
        (
            "orders",
            order(23, 1, total="-10.00"),
            f"{SHOP}/23",
            "total_price_set.shop_money.amount",
            "-10.00 is negative",
        ),
        (
            "orders",
            order(24, 1, total="1.00001"),
            f"{SHOP}/24",
            "total_price_set.shop_money.amount",
            "more than 4 decimals",
        ),
        (
            "customers",
            bad({"first_name": "Ann\x00"}),
            f"{SHOP}/50",
            "first_name",
            "contains a NUL character",
        ),
        (
            "customers",
            bad({"email": "a" * 5000 + "@x.com"}),
            f"{SHOP}/50",
            "email",
            "5,006 characters, more than the 320 allowed",
        ),
        (
            "customers",
            bad({"last_name": "n" * 100_000}),
            f"{SHOP}/50",
            "last_name",
            "100,000 characters, more than the 255 allowed",
        ),
        (
            "customers",
            bad({"note": "n" * 5001}),
            f"{SHOP}/50",
            "note",
            "more than the 5,000 allowed",
        ),
        (
            "customers",
            bad({"tags": ["ok", "t" * 256]}),
            f"{SHOP}/50",
            "tags[1]",
            "256 characters, more than the 255 allowed",
        ),
        (
            "customers",
            bad({"number_of_orders": 2**40}),
            f"{SHOP}/50",
            "number_of_orders",
            "not a count",
        ),
    ],
    ids=[
        "customer-id-beyond-64-bits",
        "negative-order-id",
        "money-1e30",
        "money-as-json-float",
        "negative-total",
        "five-decimals",
        "nul-in-name",
        "5000-char-email",
        "100000-char-name",
        "long-note",
        "long-tag",
        "count-beyond-int",
    ],
)
def test_values_storage_cannot_hold_are_quarantined_naming_the_field(
    database_url, stream, record, key, field, reason
):
    feed = Feed().customers(customer(1)).record(stream, record).orders(order(11, 1))
    run_target({"database_url": database_url}, feed, now=NOW)
    ((got_key, got_field, got_reason),) = q(
        database_url, "select record_key, field, reason from quarantine"
    )
    assert (got_key, got_field) == (key, field)
    assert reason in got_reason
    assert q(database_url, "select order_id from orders") == [(11,)]
    assert q(database_url, "select customer_id from contacts") == [(1,)]


def test_older_versions_change_nothing_and_are_counted_stale(database_url):
    config = {"database_url": database_url}
    newer = (
        Feed()
        .customers(customer(1, at=later(5), first_name="New"))
        .orders(
            order(
                11,
                1,
                updated=later(5),
                financial_status="REFUNDED",
                total_refunded_set=money("100.00"),
            )
        )
    )
    run_target(config, newer, now=NOW)
    older = (
        Feed()
        .customers(customer(1, at=later(1), first_name="Old"))
        .orders(order(11, 1, updated=later(1)))
    )
    run_target(config, older.manifest(streams=("customers", "orders")), now=NOW)
    assert q(database_url, "select first_name, order_count from contacts") == [("New", 0)]
    last = "(select run_id from sync_runs order by started_at desc limit 1)"
    skipped = (
        "select stream, reason, count from run_stats "
        f"where run_id = {last} and outcome = 'skipped' order by 1"
    )
    assert q(database_url, skipped) == [
        ("customers", "stale_version", 1),
        ("orders", "stale_version", 1),
    ]
    assert q(database_url, f"select status from sync_runs where run_id = {last}") == [
        ("succeeded",)
    ]
