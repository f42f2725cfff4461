"""Hypothesis properties of the emulator's cursor pagination, read through its GraphQL API
in-process: any page size 1..250, any sort, over a store that changes between pages, gives
every customer that existed throughout and kept its sort value exactly once, and never one
that was not there when its page was read."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shopify_emulator import StoreBuilder
from shopify_emulator.control import Control
from shopify_emulator.emulator import Emulator
from shopify_emulator.graphql_api import handle_graphql

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=60, deadline=None)
PAGE = """query Page($first: Int, $last: Int, $after: String, $before: String,
  $sort: CustomerSortKeys, $reverse: Boolean) {
  customers(first: $first, last: $last, after: $after, before: $before, sortKey: $sort,
    reverse: $reverse) {
    nodes { legacyResourceId updatedAt createdAt }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
SORT_FIELD = {"ID": None, "CREATED_AT": "createdAt", "UPDATED_AT": "updatedAt"}


def shop(updated_offsets: list[int]) -> tuple[Emulator, Control, list[int]]:
    """A store whose customers were last updated ``offset`` seconds before NOW (ties
    included: several customers changed in one second, as after a bulk import)."""
    builder = StoreBuilder(seed=3, now=NOW)
    for offset in updated_offsets:
        builder.customer(updated_at=NOW.timestamp() - 1000 + offset)
    emulator = Emulator(builder.build(), rate_limited=False)
    return emulator, Control(emulator), list(builder.customer_ids)


def page(emulator: Emulator, **variables: Any) -> dict[str, Any]:
    body = json.dumps({"query": PAGE, "variables": variables}).encode()
    status, answer, _ = handle_graphql(emulator, "2025-01", emulator.token, body)
    assert status == 200, answer
    assert "errors" not in answer, answer
    connection: dict[str, Any] = answer["data"]["customers"]
    return connection


def key(node: dict[str, Any], sort: str) -> tuple[str, int]:
    field = SORT_FIELD[sort]
    rid = int(node["legacyResourceId"])
    return ("" if field is None else node[field], rid)


class Changes:
    """Changes the store between pages: creates, updates, deletes and merges customers."""

    def __init__(self, control: Control, ids: list[int]) -> None:
        self.control = control
        self.live = set(ids)
        self.gone: set[int] = set()
        self.moved: set[int] = set()  # customers whose updatedAt changed

    def apply(self, change: tuple[str, int, int]) -> None:
        kind, first, second = change
        # A change lands a second after everything before it, as on a live shop.
        self.control.advance_time(1)
        ordered = sorted(self.live)
        if kind == "create" or not ordered:
            self.live.add(self.control.create_customer(email=None, first_name="New"))
            return
        target, other = ordered[first % len(ordered)], ordered[second % len(ordered)]
        if kind == "update":
            self.control.update_customer(target, note="changed")
            self.moved.add(target)
        elif kind == "delete":
            self.control.delete_customer(target)
            self.live.discard(target)
            self.gone.add(target)
        elif target != other:
            self.control.merge_customers(target, other)
            self.live.discard(other)
            self.gone.add(other)
            self.moved.add(target)


# Stores of any size up to 30 (uniformly, not mostly tiny), with many ties in updatedAt.
offset_lists = st.integers(0, 30).flatmap(
    lambda n: st.lists(st.sampled_from([0, 1, 1, 2, 5, 5, 5, 9]), min_size=n, max_size=n)
)
page_sizes = st.one_of(st.integers(1, 6), st.integers(1, 250))
changes = st.tuples(
    st.sampled_from(["create", "update", "delete", "merge"]),
    st.integers(0, 1000),
    st.integers(0, 1000),
)


@PROPERTY
@given(
    offsets=offset_lists,
    size=page_sizes,
    sort=st.sampled_from(sorted(SORT_FIELD)),
    reverse=st.booleans(),
    gaps=st.lists(st.lists(changes, max_size=3), max_size=8),
)
def test_a_walk_over_a_changing_store_returns_each_lasting_customer_once(
    offsets, size, sort, reverse, gaps
):
    emulator, control, initial = shop(offsets)
    store = Changes(control, initial)
    seen: list[int] = []
    after = None
    for number in range(len(initial) + 40):
        connection = page(emulator, first=size, after=after, sort=sort, reverse=reverse)
        ids = [int(n["legacyResourceId"]) for n in connection["nodes"]]
        # Never a customer that is not in the store when its page is read.
        assert set(ids) <= store.live
        keys = [key(n, sort) for n in connection["nodes"]]
        assert keys == sorted(keys, reverse=reverse)
        seen += ids
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert len(ids) == size  # only the last page is short
        after = connection["pageInfo"]["endCursor"]
        for change in gaps[number] if number < len(gaps) else ():
            store.apply(change)
    else:
        pytest.fail("the walk never ended")
    counts = Counter(seen)
    lasting = set(initial) - store.gone
    kept_place = lasting - store.moved if sort == "UPDATED_AT" else lasting
    assert {i: counts[i] for i in kept_place} == dict.fromkeys(kept_place, 1)
    if sort != "UPDATED_AT":
        # Sort values that never change: nobody twice, created customers included.
        assert max(counts.values(), default=1) == 1
    elif not reverse:
        # A customer changed during the walk moves ahead of the cursor: read again, not lost.
        assert all(counts[i] >= 1 for i in lasting & store.moved)


@PROPERTY
@given(
    offsets=offset_lists,
    size=page_sizes,
    sort=st.sampled_from(sorted(SORT_FIELD)),
    reverse=st.booleans(),
)
def test_forward_and_backward_walks_of_a_still_store_read_it_in_order(offsets, size, sort, reverse):
    emulator, _, initial = shop(offsets)
    forward, after, pages = [], None, 0
    while pages <= len(initial):  # a walk that does not advance fails below
        connection = page(emulator, first=size, after=after, sort=sort, reverse=reverse)
        forward += connection["nodes"]
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert sorted(int(n["legacyResourceId"]) for n in forward) == sorted(initial)
    assert [key(n, sort) for n in forward] == sorted(
        (key(n, sort) for n in forward), reverse=reverse
    )
    assert pages == max(1, -(-len(initial) // size))
    backward, before = [], None
    for _ in range(pages):
        connection = page(emulator, last=size, before=before, sort=sort, reverse=reverse)
        backward = connection["nodes"] + backward
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert connection["pageInfo"]["hasPreviousPage"] is False  # as many pages backwards
    assert backward == forward


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        ({"first": 250}, None),
        ({"last": 250}, None),
        ({"first": 251}, "The requested page size is 251, but the maximum is 250."),
        ({"first": 1, "last": 1}, "providing both first and last is not supported"),
        ({}, "you must provide one of first or last"),
        (
            {"first": 1, "after": "not-a-cursor"},
            "Invalid cursor for current pagination sort: not-a-cursor",
        ),
    ],
    ids=["first 250", "last 250", "first 251", "first and last", "neither", "bad cursor"],
)
def test_page_arguments_follow_shopify_rules(variables, error):
    emulator, _, initial = shop([0, 1, 2])
    body = json.dumps({"query": PAGE, "variables": variables}).encode()
    status, answer, _ = handle_graphql(emulator, "2025-01", emulator.token, body)
    assert status == 200
    if error is None:
        assert "errors" not in answer
        assert len(answer["data"]["customers"]["nodes"]) == len(initial)
    else:
        assert [e["message"] for e in answer["errors"]] == [error]
