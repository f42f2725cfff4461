"""Pages ask for what orders hold, and nothing is lost when an order holds more (issue 14).

Order pages ask for the first ``LINE_ITEMS_FIRST`` line items and ``REFUND_LINES_FIRST``
refund lines of each refund (Shopify's requested cost multiplies nested page sizes); an
order with more comes out whole through the follow-up queries. ``auto`` decides from the
cost model of the page query until a run has measured the store's real cost, which its
state then carries to the next run.
"""

from __future__ import annotations

import logging

import pytest
from shopify_emulator import StoreBuilder, generate_store
from tap_runner import run_tap
from tap_shopify_history.shopify import queries
from tap_shopify_history.streams.customers import ROSTER_LEFT_TO_DAILY_JOB, CustomersStream
from tap_shopify_history.streams.incremental import PAGE_POINTS_KEY
from tap_shopify_history.streams.orders import OrdersStream
from tap_shopify_history.tap import TapShopifyHistory
from tap_truth import assert_matches_snapshot


def config_for(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


def test_the_cost_model_prices_the_page_query_as_shopify_does() -> None:
    # The order, `customer { id }` and ten MoneyBags of three objects; a line item, its
    # product, variant and four MoneyBags; a refund line, its line item and one MoneyBag.
    assert queries.ORDER_OBJECT_POINTS == 2 + 10 * 3
    assert queries.LINE_ITEM_POINTS == 3 + 4 * 3
    assert queries.REFUND_LINE_POINTS == 2 + 3
    assert queries.order_page_points(3, 1, 2) == 32 + 2 + 3 * 15 + (4 + 2) + 2 * 5
    page = queries.orders_page_query()
    assert f"lineItems(first: {queries.LINE_ITEMS_FIRST})" in page
    assert f"refundLineItems(first: {queries.REFUND_LINES_FIRST})" in page
    # The auto choice starts from the model, not a figure copied from an old measurement.
    assert OrdersStream.points_per_record_estimate == queries.typical_order_points()
    assert OrdersStream.node_cost_estimate == queries.order_page_requested_points()
    assert CustomersStream.points_per_record_estimate == queries.CUSTOMER_POINTS == 5


def test_orders_with_more_children_than_a_page_asks_come_out_whole(emulator_factory) -> None:
    lines = queries.LINE_ITEMS_FIRST + 1
    builder = StoreBuilder(seed=41)
    builder.customer().order(refund="full", line_items=lines)  # a refund of 6 lines
    builder.customer().order(refund="full", line_items=queries.REFUND_LINES_FIRST + 1)
    builder.customer().order(refund="multiple", line_items=lines, currency="EUR")
    builder.customer().order(line_items=queries.LINE_ITEMS_FIRST)
    server = emulator_factory(store=builder.build(), plan="plus", bulk_seconds=0.1)
    output = run_tap(config_for(server, extraction_mode="paginated"))
    assert_matches_snapshot(output, server.control.snapshot())
    orders = output.records("orders")
    assert sorted(len(o["line_items"]) for o in orders) == sorted(
        [lines, queries.REFUND_LINES_FIRST + 1, lines, queries.LINE_ITEMS_FIRST]
    )
    refund_lines = sorted(len(r["refund_line_items"]) for o in orders for r in o["refunds"])
    assert lines in refund_lines
    assert queries.REFUND_LINES_FIRST + 1 in refund_lines


def test_a_paged_run_keeps_what_its_orders_cost_for_the_next_auto_choice(
    emulator_factory, caplog
) -> None:
    server = emulator_factory(
        store=generate_store(seed=43, customers=10, orders=40), plan="plus", bulk_seconds=0.1
    )
    first = run_tap(config_for(server))  # a backfill: bulk, nothing measured
    assert PAGE_POINTS_KEY not in first.final_state["bookmarks"]["orders"]
    orders = [o["id"] for o in server.control.snapshot()["orders"] if not o["test"]]
    for order_id in orders[:3]:
        server.control.update_order(order_id, note="changed")
    with caplog.at_level(logging.INFO):
        second = run_tap(config_for(server), state=first.final_state)
    assert "points each (estimated from the query)" in caplog.text
    kept = second.final_state["bookmarks"]["orders"][PAGE_POINTS_KEY]
    # What the pages really cost an order (actualQueryCost): the model's order, give or take
    # the few line items and refunds of these three.
    assert 30 < kept < 150
    assert kept != pytest.approx(queries.typical_order_points())
    server.control.update_order(orders[3], note="changed again")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_tap(config_for(server), state=second.final_state)
    assert f"at {kept:.1f} points each (measured by an earlier run)" in caplog.text


def test_a_run_without_the_roster_says_the_daily_job_reads_it(emulator_factory, caplog) -> None:
    server = emulator_factory(
        store=generate_store(seed=45, customers=5, orders=5), plan="plus", bulk_seconds=0.1
    )
    config = config_for(server)
    with caplog.at_level(logging.INFO):
        run_tap(config)
    assert ROSTER_LEFT_TO_DAILY_JOB not in caplog.text  # the roster was read
    catalog = TapShopifyHistory(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if entry["tap_stream_id"] == "customer_roster" and item["breadcrumb"] == []:
                item["metadata"]["selected"] = False
    caplog.clear()
    with caplog.at_level(logging.INFO):
        output = run_tap(config, catalog=catalog)
    assert ROSTER_LEFT_TO_DAILY_JOB in caplog.text
    assert not output.records("customer_roster")
    manifest = {(m["stream"], m["part"]) for m in output.records("sync_manifest")}
    assert manifest == {("customers", "window"), ("orders", "window")}


def _roster_only(config):
    catalog = TapShopifyHistory(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in (
                    "customer_roster",
                    "sync_manifest",
                )
    return catalog


@pytest.mark.parametrize(("plan", "bulk"), [("standard", True), ("plus", False)])
def test_the_roster_pages_only_while_the_bucket_pays_for_it(emulator_factory, plan, bulk):
    # 5,200 ids at a point each: 3,200 beyond a full standard bucket are 32 s at 100 a
    # second, longer than a bulk job (which spends no points); Plus pays them at once. (The
    # old rule paged every roster of up to 10,000 customers.)
    customers = 5200
    server = emulator_factory(
        store=generate_store(seed=47, customers=customers, orders=0), plan=plan, bulk_seconds=0.1
    )
    config = config_for(server)
    output = run_tap(config, catalog=_roster_only(config))
    assert len(output.records("customer_roster")) == customers
    roster_jobs = [op.query for op in server.emulator.bulk.ops.values()]
    assert (queries.ROSTER_BULK in roster_jobs) is bulk
