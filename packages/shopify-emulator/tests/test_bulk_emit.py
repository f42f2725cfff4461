"""Bulk JSONL written directly (``bulk_emit``) is byte for byte the reference executor's.

The reference is graphql-core's own executor followed by ``flatten``; each case also
checks that the direct path really answered (it may not quietly hand everything back).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from graphql import execute_sync, parse
from shopify_emulator import bulk_emit, generate_store
from shopify_emulator.bulk_output import flatten
from shopify_emulator.control import Control
from shopify_emulator.emulator import Emulator
from shopify_emulator.schema import served_schema
from test_fastexec import CUSTOMERS_BULK, ORDERS_BULK, built_store, context

__all__ = ["built_store"]  # the fixture, shared with the executor's tests

MONEY = "{ shopMoney { amount currencyCode } presentmentMoney { amount } }"
# Aliases, __typename, enums, ints, lists of scalars, `nodes` and a refund list inline.
ORDERS_NODES = f"""{{ o: orders(sortKey: UPDATED_AT, reverse: true) {{ nodes {{
  id __typename n: name displayFinancialStatus cancelReason tags test
  customer {{ id numberOfOrders amountSpent {{ amount }} }}
  refunds {{ id note totalRefundedSet {MONEY} }}
  total: totalPriceSet {MONEY} sub: subtotalPriceSet {MONEY}
  lineItems {{ nodes {{ id quantity currentQuantity sku product {{ id title }}
    variant {{ id product {{ vendor }} }} discountedTotalSet {MONEY} }} }} }} }} }}"""
# Two top-level connections; nested objects without an id.
TWO_ROOTS = """{ customers(query: "state:enabled") { edges { node { email tags
  defaultAddress { city zip } metafields { nodes { key value } } } } }
  products { edges { node { id title } } } }"""
CHUNK = 40


def reference_chunk(schema, document, ctx, grouped, seed):
    result = execute_sync(schema, document, context_value=ctx)
    assert result.errors is None
    return flatten(result.data, grouped=grouped, seed=seed)


def direct_chunk(schema, document, ctx, grouped, seed):
    written = bulk_emit.emit_chunk(schema, document, ctx, grouped=grouped, seed=seed)
    assert written is not None, "the direct path handed the chunk back"
    return written


def chunks(write, store, query, *, grouped, version="2025-01"):
    """Every slice of a bulk run, as ``BulkManager`` cuts them, written by ``write``."""
    schema, document = served_schema(version), parse(query)
    cache: dict = {}
    out = []
    for offset in range(0, 10_000, CHUNK):
        ctx = context(
            store, version=version, unbounded=True, bulk_slice=(offset, CHUNK), bulk_cache=cache
        )
        lines, roots = write(schema, document, ctx, grouped, offset)
        if roots == 0:
            return out
        out.append((lines, roots))
    raise AssertionError("too many chunks")


def reference_chunks(store, query, **kwargs):
    return chunks(reference_chunk, store, query, **kwargs)


def direct_chunks(store, query, **kwargs):
    return chunks(direct_chunk, store, query, **kwargs)


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "ungrouped"])
@pytest.mark.parametrize(
    "query",
    [ORDERS_BULK, CUSTOMERS_BULK, ORDERS_NODES, TWO_ROOTS],
    ids=["orders", "customers", "orders-nodes-aliases", "two-roots"],
)
def test_direct_jsonl_is_the_reference_jsonl(query, grouped, seed):
    store = generate_store(seed, 30, 150, now=1_790_000_000)
    direct = direct_chunks(store, query, grouped=grouped)
    assert direct == reference_chunks(store, query, grouped=grouped)
    lines = [line for chunk, _ in direct for line in chunk]
    assert len(lines) > sum(roots for _, roots in direct) > 0
    assert any('"__parentId":"gid://shopify/' in line for line in lines) or query is TWO_ROOTS


def test_edge_cases_and_a_newer_version(built_store):
    for version in ("2025-01", "2026-10"):
        for query in (ORDERS_BULK, ORDERS_NODES, CUSTOMERS_BULK):
            direct = direct_chunks(built_store, query, grouped=True, version=version)
            assert direct == reference_chunks(built_store, query, grouped=True, version=version)


def test_changed_orders_are_written_as_they_are_now():
    store = generate_store(5, 30, 200, now=1_790_000_000)
    before = direct_chunks(store, ORDERS_BULK, grouped=True)
    order_id = int(before[0][0][0].split('"gid://shopify/Order/')[1].split('"')[0])
    Control(Emulator(store)).update_order(order_id, tags=["vip", "changed"], note="late")
    after = direct_chunks(store, ORDERS_BULK, grouped=True)
    assert after == reference_chunks(store, ORDERS_BULK, grouped=True)
    assert after != before


@pytest.mark.parametrize(
    "query",
    [
        "{ orders { edges { node { ...F } } } } fragment F on Order { id }",
        "{ shop { name } orders { edges { node { id } } } }",
        "{ orders { edges { cursor node { id lineItems { edges { node { id } } } } } } }",
        "{ orders { pageInfo { hasNextPage } edges { node { id } } } }",
        "{ orders { edges { node { id lineItems { pageInfo { hasNextPage } nodes { id } } } } } }",
    ],
    ids=["fragment", "top-level-object", "edge-cursor", "page-info", "nested-page-info"],
)
def test_documents_it_does_not_reproduce_go_to_the_general_path(built_store, query):
    ctx = replace(context(built_store), unbounded=True, bulk_slice=(0, CHUNK), bulk_cache={})
    schema, document = served_schema("2025-01"), parse(query)
    assert bulk_emit.emit_chunk(schema, document, ctx, grouped=True, seed=1) is None


def test_denied_protected_data_goes_to_the_general_path(built_store):
    ctx = replace(
        context(built_store, protected_denied=True), unbounded=True, bulk_slice=(0, CHUNK),
        bulk_cache={},
    )  # fmt: skip
    schema, document = served_schema("2025-01"), parse(ORDERS_BULK)
    assert bulk_emit.emit_chunk(schema, document, ctx, grouped=True, seed=1) is None


@pytest.mark.parametrize("missing_on", [1, 0], ids=["later-views", "first-view"])
def test_views_of_one_class_holding_different_attributes_read_as_the_reference(
    monkeypatch, missing_on
):
    """Emitters are specialised on the first node's class and attributes; a later node
    lacking one (or the first lacking one later nodes hold) still writes what the
    reference writes (null), through the general path or a lookup with a default."""
    from shopify_emulator.views import OrderView  # noqa: PLC0415

    original = OrderView.__init__

    def init(self, order, ctx):
        original(self, order, ctx)
        if order.id % 2 == missing_on:
            del self.sourceName

    monkeypatch.setattr(OrderView, "__init__", init)
    store = generate_store(3, 30, 120, now=1_790_000_000)

    def direct_or_general(schema, document, ctx, grouped, seed):
        written = bulk_emit.emit_chunk(schema, document, ctx, grouped=grouped, seed=seed)
        return written or reference_chunk(schema, document, ctx, grouped, seed)

    written = chunks(direct_or_general, store, ORDERS_BULK, grouped=True)
    assert written == reference_chunks(store, ORDERS_BULK, grouped=True)
    assert any('"sourceName":null' in line for lines, _ in written for line in lines)
