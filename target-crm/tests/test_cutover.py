"""The silent-backfill cut-over is recorded when a complete sync ends, even a resumed one."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from crm_records import SHOP, Feed, customer, later, order, run_target

NOW = datetime(2024, 4, 1, tzinfo=UTC)


def q(url, sql):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows


def utc(value):
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def test_killed_after_the_orders_checkpoint_then_resumed_with_nothing_new(database_url):
    config = {"database_url": database_url}
    # Run 1: the tap checkpoints customers and orders, then is killed before the roster.
    first = Feed().customers(customer(1), customer(2)).state({"bookmarks": {"customers": {}}})
    first.orders(order(11, 1), order(12, 2)).state({"bookmarks": {"orders": {}}})
    run_target(config, first, now=NOW)
    assert q(database_url, "select status from sync_runs") == [("incomplete",)]
    assert q(database_url, "select count(*) from shops where cutover_at is not null") == [(0,)]
    # Run 2: resumed from the bookmarks, nothing new; the roster and the manifest close it.
    window_end = later(10)
    resumed = Feed().roster([1, 2]).manifest(window_end=window_end)
    run_target(config, resumed, now=NOW)
    assert q(database_url, "select status from sync_runs order by started_at") == [
        ("incomplete",),
        ("succeeded",),
    ]
    ((at, source),) = q(database_url, "select cutover_at, cutover_source from shops")
    assert (utc(at), source) == (window_end, "initial_sync")
    # Run 3: a new order placed after the cut-over triggers automations.
    new = (
        Feed()
        .orders(order(13, 1, at=later(11)))
        .manifest(streams=("orders",), window_end=later(12))
    )
    run_target(config, new, now=NOW)
    events = q(
        database_url,
        "select order_id, triggers_automations from events where kind = 'order_placed' "
        "order by order_id",
    )
    assert [(o, bool(t)) for o, t in events] == [(11, False), (12, False), (13, True)]
    assert q(database_url, f"select count(*) from shops where shop_domain = '{SHOP}'") == [(1,)]


def test_an_incomplete_run_never_records_the_cut_over(sqlite_url):
    config = {"database_url": sqlite_url}
    run_target(config, Feed().customers(customer(1)).roster([1]), now=NOW)
    assert q(sqlite_url, "select count(*) from shops where cutover_at is not null") == [(0,)]
    assert q(sqlite_url, "select count(*) from contacts where status = 'active'") == [(1,)]
