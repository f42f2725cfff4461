"""Cursor pagination and the search syntax, read back over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from shopify_emulator import StoreBuilder
from testkit.emulator_client import graphql

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PAGE = """query($first: Int, $last: Int, $after: String, $before: String, $sort: CustomerSortKeys,
  $reverse: Boolean, $q: String) {
  customers(first: $first, last: $last, after: $after, before: $before, sortKey: $sort,
    reverse: $reverse, query: $q) {
    edges { cursor node { legacyResourceId updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
ORDER_IDS = """query($q: String, $after: String, $sort: OrderSortKeys) {
  orders(first: 50, query: $q, after: $after, sortKey: $sort) {
    nodes { legacyResourceId updatedAt } pageInfo { hasNextPage endCursor } } }"""


def walk_customers(server, **variables):
    ids, after, pages = [], None, 0
    while True:
        body = graphql(server, PAGE, {**variables, "after": after}).json()
        conn = body["data"]["customers"]
        ids += [int(e["node"]["legacyResourceId"]) for e in conn["edges"]]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            return ids, pages
        after = conn["pageInfo"]["endCursor"]


def order_ids(server, query=None, sort="ID", version="2025-01"):
    body = graphql(server, ORDER_IDS, {"q": query, "sort": sort}, version=version).json()
    assert "errors" not in body, body
    return [int(n["legacyResourceId"]) for n in body["data"]["orders"]["nodes"]]


@pytest.mark.parametrize("sort", ["ID", "UPDATED_AT", "CREATED_AT"])
@pytest.mark.parametrize("reverse", [False, True])
def test_walk_matches_store_order(shopify_emulator, sort, reverse):
    ids, pages = walk_customers(shopify_emulator, first=7, sort=sort, reverse=reverse)
    truth = shopify_emulator.control.snapshot()["customers"]
    field = {"ID": "id", "UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}[sort]
    expected = [c["id"] for c in sorted(truth, key=lambda c: (c[field], c["id"]))]
    assert ids == (expected[::-1] if reverse else expected)
    assert pages == 6


def test_last_and_before_walk_backwards(shopify_emulator):
    first = graphql(shopify_emulator, PAGE, {"last": 5}).json()["data"]["customers"]
    assert first["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][-1]["cursor"],
    }
    before = graphql(
        shopify_emulator, PAGE, {"last": 5, "before": first["pageInfo"]["startCursor"]}
    ).json()["data"]["customers"]
    ids = [int(e["node"]["legacyResourceId"]) for e in before["edges"] + first["edges"]]
    truth = sorted(c["id"] for c in shopify_emulator.control.snapshot()["customers"])
    assert ids == truth[-10:]
    assert before["pageInfo"]["hasNextPage"] is True


def test_cursors_survive_changes_between_pages(shopify_emulator):
    control = shopify_emulator.control
    page1 = graphql(shopify_emulator, PAGE, {"first": 10, "sort": "UPDATED_AT"}).json()
    conn = page1["data"]["customers"]
    seen = [int(e["node"]["legacyResourceId"]) for e in conn["edges"]]
    # The record the cursor points at is merged away; another moves to the end.
    control.merge_customers(seen[0], seen[-1])
    control.advance_time(5)
    control.update_customer(seen[1], note="touched")
    rest, _ = walk_customers(shopify_emulator, first=10, sort="UPDATED_AT")
    after_cursor = []
    after = conn["pageInfo"]["endCursor"]
    while after:
        body = graphql(shopify_emulator, PAGE, {"first": 10, "sort": "UPDATED_AT", "after": after})
        c = body.json()["data"]["customers"]
        after_cursor += [int(e["node"]["legacyResourceId"]) for e in c["edges"]]
        after = c["pageInfo"]["endCursor"] if c["pageInfo"]["hasNextPage"] else None
    live = {c["id"] for c in control.snapshot()["customers"]}
    assert set(seen[:-1]) | set(after_cursor) == live  # nothing skipped
    assert after_cursor[-1] in (seen[0], seen[1])  # touched records come round again
    assert set(rest) == live


def test_malformed_cursor_is_an_error(shopify_emulator):
    body = graphql(shopify_emulator, PAGE, {"first": 2, "after": "not-a-cursor"}).json()
    assert "Invalid cursor" in body["errors"][0]["message"]


@pytest.fixture
def dated_store():
    builder = StoreBuilder(seed=3, now=NOW).customer(email="a@example.com")
    stamps = [datetime(2026, 5, d, 10, 0, tzinfo=UTC) for d in (1, 2, 2, 3, 4)]
    for stamp in stamps:
        builder.order(updated_at=stamp, created_days_ago=40)
    builder.order(test=True, created_days_ago=5).order(cancelled=True, created_days_ago=5)
    return builder


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("updated_at:>='2026-05-02T10:00:00Z'", [1, 2, 3, 4, 5, 6]),
        # Before 2026-10 '>' on a whole second still returns later parts of that second.
        ("updated_at:>'2026-05-02T10:00:00Z'", [1, 2, 3, 4, 5, 6]),
        ("updated_at:<'2026-05-02T10:00:00Z'", [0]),
        ("updated_at:<='2026-05-02T10:00:00Z'", [0, 1, 2]),
        ("updated_at:>='2026-05-03T11:00:00Z'", [4, 5, 6]),
        ("updated_at:>=2026-05-03T11:00:00Z", [3, 4, 5, 6]),  # unquoted: the day only
        ("updated_at:2026-05-02", [1, 2]),
        ("updated_at:>='2026-05-02T10:00:00Z' AND updated_at:<'2026-05-04T00:00:00Z'", [1, 2, 3]),
        ("updated_at:<'2026-05-02T00:00:00Z' OR updated_at:>='2026-05-04T00:00:00Z'", [0, 4, 5, 6]),
        ("test:false AND status:cancelled", [6]),
        ("NOT test:true", [0, 1, 2, 3, 4, 6]),
        ("-test:true status:open", [0, 1, 2, 3, 4]),
        ("nosuchfield:1", [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_order_search(emulator_factory, dated_store, query, expected):
    server = emulator_factory(store=dated_store.build())
    ids = dated_store.order_ids
    assert order_ids(server, query) == [ids[i] for i in expected]


def test_id_filter_and_count_agree(emulator_factory, dated_store):
    server = emulator_factory(store=dated_store.build())
    pivot = dated_store.order_ids[3]
    assert order_ids(server, f"id:>{pivot}") == dated_store.order_ids[4:]
    body = graphql(server, f'{{ ordersCount(query: "id:>={pivot}") {{ count }} }}').json()
    assert body["data"]["ordersCount"]["count"] == 4


def test_many_records_sharing_one_second_paginate_without_loss(emulator_factory):
    builder = StoreBuilder(seed=5, now=NOW).customer()
    same = datetime(2026, 5, 20, 8, 0, tzinfo=UTC)
    for _ in range(120):
        builder.order(updated_at=same, created_days_ago=30)
    server = emulator_factory(store=builder.build())
    seen, after = [], None
    while True:
        body = graphql(server, ORDER_IDS, {"sort": "UPDATED_AT", "after": after}).json()
        conn = body["data"]["orders"]
        seen += [int(n["legacyResourceId"]) for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == builder.order_ids


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2026-07", [1, 2, 3, 4, 5, 6]), ("2026-10", [3, 4, 5, 6])],
)
def test_exclusive_gt_excludes_the_full_second_from_2026_10(
    emulator_factory, dated_store, version, expected
):
    server = emulator_factory(store=dated_store.build())
    ids = dated_store.order_ids
    got = order_ids(server, "updated_at:>'2026-05-02T10:00:00Z'", version=version)
    assert got == [ids[i] for i in expected]
    # '<=' covers the whole second on every version, so before 2026-10 the two overlap.
    both = order_ids(server, "updated_at:<='2026-05-02T10:00:00Z'", version=version)
    assert both == [ids[i] for i in (0, 1, 2)]


def test_fractional_seconds_compare_exactly(emulator_factory, dated_store):
    server = emulator_factory(store=dated_store.build())
    after_all = order_ids(server, "updated_at:>'2026-05-02T10:00:00.999999Z'")
    assert after_all == dated_store.order_ids[3:]
    from_start = order_ids(server, "updated_at:>='2026-05-02T10:00:00.000000Z'")
    assert from_start == dated_store.order_ids[1:]


def test_order_walk_by_updated_at_sees_mid_walk_changes_again(shopify_emulator):
    control = shopify_emulator.control
    query = "updated_at:>='2000-01-01T00:00:00Z'"
    body = graphql(shopify_emulator, ORDER_IDS, {"q": query, "sort": "UPDATED_AT"}).json()
    conn = body["data"]["orders"]
    first_page = [int(n["legacyResourceId"]) for n in conn["nodes"]]
    control.advance_time(5)
    control.cancel_order(first_page[0])  # already read: moves to the end
    new_order = control.create_order(None)  # a guest order placed mid-walk
    rest, after = [], conn["pageInfo"]["endCursor"]
    while after:
        variables = {"q": query, "sort": "UPDATED_AT", "after": after}
        page = graphql(shopify_emulator, ORDER_IDS, variables).json()["data"]["orders"]
        rest += [int(n["legacyResourceId"]) for n in page["nodes"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    live = {o["id"] for o in control.snapshot()["orders"]}
    assert set(first_page) | set(rest) == live
    assert set(rest[-2:]) == {first_page[0], new_order}  # both come (back) at the end
