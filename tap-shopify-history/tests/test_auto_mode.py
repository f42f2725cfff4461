"""``auto`` picks bulk or pages from the plan's restore rate and the cost per record."""

from __future__ import annotations

import pytest
from shopify_emulator import generate_store
from tap_runner import run_tap
from tap_shopify_history.shopify.mode import BULK_JOB_SECONDS, choose_extraction


@pytest.mark.parametrize(
    ("records", "points", "restore", "available", "paged_seconds"),
    [
        (20, 75.0, 100.0, 2000.0, 0.0),  # the bucket pays it all
        (100, 75.0, 100.0, 2000.0, 55.0),  # standard: 5,500 points beyond the bucket
        (100, 75.0, 1000.0, 20000.0, 0.0),  # Plus: the same read fits the bucket
        (1000, 75.0, 1000.0, 20000.0, 55.0),
        (67, 75.0, 100.0, 2000.0, 30.25),  # just past a bulk job's duration
        (66, 75.0, 100.0, 2000.0, 29.5),
        (500, 5.0, 100.0, 0.0, 25.0),  # an empty bucket pays nothing at once
    ],
    ids=["fits", "standard", "plus-fits", "plus-large", "just-bulk", "just-pages", "empty"],
)
def test_the_documented_rule(records, points, restore, available, paged_seconds):
    choice = choose_extraction(records, points, restore, available)
    expected = max(0.0, records * points - available) / restore
    assert choice.paged_seconds == pytest.approx(expected) == pytest.approx(paged_seconds)
    assert choice.use_bulk is (expected > BULK_JOB_SECONDS)
    assert choice.bulk_seconds == BULK_JOB_SECONDS


def test_no_restore_rate_pages_only_what_the_bucket_holds():
    assert not choose_extraction(10, 5.0, 0.0, 100.0).use_bulk
    assert choose_extraction(10, 50.0, 0.0, 100.0).use_bulk


@pytest.mark.parametrize(
    ("plan", "changed", "bulk"),
    [("standard", 6, False), ("standard", 120, True), ("plus", 120, False)],
    ids=["standard-few", "standard-many", "plus-many"],
)
def test_a_catch_up_uses_bulk_when_pages_would_wait_longer(emulator_factory, plan, changed, bulk):
    server = emulator_factory(
        store=generate_store(seed=33, customers=10, orders=150), plan=plan, bulk_seconds=0.1
    )
    config = {"store_url": server.base_url, "access_token": server.token}
    first = run_tap(config)
    jobs = len(server.emulator.bulk.ops)
    orders = [o["id"] for o in server.control.snapshot()["orders"] if not o["test"]]
    for order_id in orders[:changed]:
        server.control.update_order(order_id, note="changed")
    second = run_tap(config, state=first.final_state)
    # 120 orders at about 75 points: 7,000 points beyond a full standard bucket, 70 s at
    # 100 points/s, longer than a bulk job; a Plus bucket (20,000) pays them at once.
    new_jobs = [op.query for op in list(server.emulator.bulk.ops.values())[jobs:]]
    assert any("orders" in q for q in new_jobs) is bulk
    assert not any("customers" in q for q in new_jobs)
    assert sorted(second.ids("orders")) == sorted(orders[:changed])
