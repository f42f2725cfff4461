"""The compiled executor answers exactly what graphql-core's executor answers.

Bulk output and pages run through ``fastexec``; these tests pin its results (data, errors,
JSONL bytes) to the reference executor's on representative documents, so the fast path
cannot silently drift from the real one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from graphql import execute_sync, parse
from shopify_emulator import StoreBuilder, fastexec, generate_store
from shopify_emulator.bulk import BulkManager, BulkOperation
from shopify_emulator.faults import FaultInjector
from shopify_emulator.schema import served_schema
from shopify_emulator.views import RequestContext

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ALL_SCOPES = frozenset({"read_orders", "read_all_orders", "read_customers", "read_products"})
MONEY = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
ORDER_FIELDS = f"""id legacyResourceId name createdAt processedAt updatedAt cancelledAt
  cancelReason closedAt closed test customer {{ id }} email phone currencyCode
  presentmentCurrencyCode totalPriceSet {MONEY} subtotalPriceSet {MONEY}
  totalTaxSet {MONEY} totalDiscountsSet {MONEY} totalShippingPriceSet {MONEY}
  currentTotalPriceSet {MONEY} currentSubtotalPriceSet {MONEY} currentTotalTaxSet {MONEY}
  currentTotalDiscountsSet {MONEY} totalRefundedSet {MONEY} displayFinancialStatus
  displayFulfillmentStatus tags sourceName __typename"""
LINE_FIELDS = f"""id sku title name quantity currentQuantity vendor product {{ id title }}
  variant {{ id sku }} originalUnitPriceSet {MONEY} discountedUnitPriceSet {MONEY}
  originalTotalSet {MONEY} discountedTotalSet {MONEY}"""
REFUNDS = f"refunds {{ id createdAt updatedAt note totalRefundedSet {MONEY} }}"
CUSTOMER_FIELDS = """id legacyResourceId email phone firstName lastName displayName
  defaultAddress { city province provinceCode country countryCodeV2 zip }
  numberOfOrders amountSpent { amount currencyCode }
  emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  tags state verifiedEmail note createdAt updatedAt"""

ORDERS_BULK = (
    f"{{ orders {{ edges {{ node {{ {ORDER_FIELDS} {REFUNDS}"
    f" lineItems {{ edges {{ node {{ {LINE_FIELDS} }} }} }} }} }} }} }}"
)
CUSTOMERS_BULK = (
    f"{{ customers(query: \"updated_at:>='2020-01-01T00:00:00Z'\") {{ edges {{ node {{"
    f" {CUSTOMER_FIELDS} metafields {{ edges {{ node {{ id namespace key value type }} }} }}"
    " } } } }"
)
ORDERS_PAGE = f"""query Page($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {ORDER_FIELDS} total: totalPriceSet {{ shopMoney {{ amount }} }}
      lineItems(first: 10) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_FIELDS} }} }}
      refunds {{ id refundLineItems(first: 10) {{ nodes {{ quantity lineItem {{ id }} }} }} }}
    }} }} }}"""
CUSTOMERS_PAGE = (
    f"{{ customers(first: 40, sortKey: UPDATED_AT) {{ nodes {{ {CUSTOMER_FIELDS}"
    " metafields(first: 5) { nodes { id key } } } } }"
)


@pytest.fixture(scope="module")
def store():
    return generate_store(3, 80, 600, now=NOW)


@pytest.fixture(scope="module")
def built_store():
    """Hand-built edge cases: stored Order objects rather than generated ones."""
    builder = StoreBuilder(seed=1, now=NOW)
    builder.customer(email=None, phone="+14155550100", tags=["VIP", "Ünïcødé"])
    builder.customer(first_name='Robert"); DROP TABLE', tags=[])
    builder.order(refund="partial", currency="EUR", line_items=3)
    builder.order(refund="full", currency="GBP")
    builder.order(refund="multiple", line_items=4)
    builder.order(cancelled=True, created_days_ago=400)
    builder.order(guest=True, test=True)
    builder.order(silent_child_change=True)
    return builder.build()


def context(store, **overrides) -> RequestContext:
    ctx = RequestContext(
        store=store,
        scopes=ALL_SCOPES,
        version="2025-01",
        app_key="app",
        base_url="http://127.0.0.1",
    )
    return replace(ctx, **overrides)


def both(store, document, ctx, variables=None, version="2025-01"):
    schema = served_schema(version)
    parsed = parse(document)
    fast = fastexec.execute(schema, parsed, ctx, variables)
    reference = execute_sync(schema, parsed, context_value=ctx, variable_values=variables)
    return fast, reference


@pytest.mark.parametrize("version", ["2025-01", "2026-10"])
@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (ORDERS_PAGE, {"first": 50, "query": "updated_at:>='2020-01-01T00:00:00Z'"}),
        (ORDERS_PAGE, {"first": 7, "after": None}),
        (CUSTOMERS_PAGE, None),
    ],
    ids=["orders-page", "orders-small-page", "customers-nodes"],
)
def test_pages_equal_the_reference(store, document, variables, version):
    schema = served_schema(version)
    ctx = context(store, version=version)
    # The plan itself (no fallback) gives the reference's data.
    planned = fastexec.run_steps(
        fastexec.compile_plan(schema, parse(document), ctx, variables), None
    )
    fast, reference = both(store, document, ctx, variables, version)
    assert reference.errors is None
    assert planned == fast.data == reference.data
    assert fast.data["orders" if "orders" in fast.data else "customers"]["nodes"]


@pytest.mark.parametrize(
    ("overrides", "document"),
    [
        ({"protected_denied": True}, ORDERS_PAGE),
        ({"scopes": frozenset({"read_customers"})}, ORDERS_PAGE),
    ],
    ids=["protected-data-denied", "missing-scope"],
)
def test_errors_and_partial_data_come_from_the_reference(store, overrides, document):
    fast, reference = both(store, document, context(store, **overrides), {"first": 5})
    assert reference.errors
    assert fast.data == reference.data
    assert [e.formatted for e in fast.errors] == [e.formatted for e in reference.errors]


def test_unsupported_documents_fall_back(store):
    document = """query { orders(first: 3) { nodes { ...F } } }
      fragment F on Order { id name lineItems(first: 2) { nodes { id } } }"""
    with pytest.raises(fastexec.UnsupportedError):
        fastexec.compile_plan(served_schema("2025-01"), parse(document), context(store))
    fast, reference = both(store, document, context(store))
    assert fast.data == reference.data
    assert len(fast.data["orders"]["nodes"]) == 3


def run_bulk(store, query, *, grouped, enabled, monkeypatch, protected_denied=False):
    monkeypatch.setattr(fastexec, "ENABLED", enabled)
    if enabled and not protected_denied:
        # The fast path must not quietly hand every slice to the reference executor.
        monkeypatch.setattr(fastexec, "execute_sync", None)
    else:
        monkeypatch.setattr(fastexec, "execute_sync", execute_sync)
    monkeypatch.setattr("shopify_emulator.bulk.CHUNK", 250)  # several slices
    manager = BulkManager(store, FaultInjector(), 0.0)
    ctx = context(store, bulk=manager, protected_denied=protected_denied)
    op = BulkOperation(
        id=41, app_key="app", query=query, version="2025-01", created_at=0.0,
        duration=0.0, grouped=grouped, outcome=None,
    )  # fmt: skip
    manager._execute(ctx, op)
    try:
        return op.output.read(), op.output.line_count, op.output.root_count, op.error_code
    finally:
        op.output.delete()


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "ungrouped"])
@pytest.mark.parametrize("query", [ORDERS_BULK, CUSTOMERS_BULK], ids=["orders", "customers"])
def test_bulk_jsonl_equals_the_reference(store, query, grouped, monkeypatch):
    fast = run_bulk(store, query, grouped=grouped, enabled=True, monkeypatch=monkeypatch)
    reference = run_bulk(store, query, grouped=grouped, enabled=False, monkeypatch=monkeypatch)
    assert fast == reference
    body, lines, roots, error = fast
    assert error is None
    assert roots == (600 if query is ORDERS_BULK else 80)
    assert lines > roots
    assert body.count(b"\n") == lines


@pytest.mark.parametrize("query", [ORDERS_BULK, CUSTOMERS_BULK], ids=["orders", "customers"])
def test_bulk_jsonl_of_edge_cases_equals_the_reference(built_store, query, monkeypatch):
    fast = run_bulk(built_store, query, grouped=True, enabled=True, monkeypatch=monkeypatch)
    reference = run_bulk(built_store, query, grouped=True, enabled=False, monkeypatch=monkeypatch)
    assert fast == reference
    assert fast[3] is None
    assert b'"presentmentMoney":{"amount"' in fast[0] or query is CUSTOMERS_BULK


def test_bulk_denied_protected_data_fails_as_the_reference(store, monkeypatch):
    fast = run_bulk(
        store, ORDERS_BULK, grouped=True, enabled=True, monkeypatch=monkeypatch,
        protected_denied=True,
    )  # fmt: skip
    reference = run_bulk(
        store, ORDERS_BULK, grouped=True, enabled=False, monkeypatch=monkeypatch,
        protected_denied=True,
    )  # fmt: skip
    assert fast == reference
    assert fast[3] == "ACCESS_DENIED"
