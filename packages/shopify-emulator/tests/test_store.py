"""The generator (deterministic, every edge case present) and the fluent builder."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from shopify_emulator import StoreBuilder, generate_store, mutations
from shopify_emulator.control import order_dict
from shopify_emulator.demo import edge_case_counts
from shopify_emulator.faults import Faults, parse_fault_specs

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def store():
    return generate_store(11, 600, 4000, now=NOW)


def test_same_seed_same_store():
    a = generate_store(5, 50, 300, now=NOW)
    b = generate_store(5, 50, 300, now=NOW)
    c = generate_store(6, 50, 300, now=NOW)
    dump = lambda s: [order_dict(s.order(i)) for i in s.order_ids()]  # noqa: E731
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    assert [x.email for x in a.customers.values()] == [x.email for x in b.customers.values()]


def test_generated_orders_are_stable_when_read_twice(store):
    oid = next(iter(store.order_ids()))
    assert order_dict(store.order(oid)) == order_dict(store.order(oid))


@pytest.mark.parametrize(
    "case",
    [
        "customers without email",
        "phone-only customers",
        "customers sharing an email",
        "guest orders",
        "test orders",
        "cancelled orders",
        "refunded orders",
        "orders with several refunds",
        "foreign presentment currency",
        "refund edited after order updatedAt",
        "orders older than 60 days",
    ],
)
def test_every_edge_case_is_present(store, case):
    assert edge_case_counts(store)[case] > 0


def test_hostile_and_unicode_strings_present(store):
    names = [c.first_name or "" for c in store.customers.values()]
    tags = [t for c in store.customers.values() for t in c.tags]
    assert any("DROP TABLE" in n for n in names)
    assert any(not n.isascii() for n in names)
    assert any(not t.isascii() for t in tags)


def test_records_share_updated_at_seconds(store):
    counts = Counter(store.order_facts(i).updated_at for i in store.order_ids())
    assert max(counts.values()) >= 10


def test_full_and_partial_refund_totals_are_consistent(store):
    for oid in store.order_ids():
        order = store.order(oid)
        assert 0 <= order.refunded_cents <= order.total_cents
        if order.refunds:
            assert order.financial_status in ("PARTIALLY_REFUNDED", "REFUNDED")


def test_builder_fluent_chain():
    store = (
        StoreBuilder(seed=1, now=NOW)
        .customer(email=None, phone="+14155550100", tags=["ünï", "VIP"])
        .order(refund="partial", currency="EUR", line_items=3)
        .order(refund="full")
        .order(refund="multiple")
        .order(cancelled=True, created_days_ago=400)
        .order(guest=True, test=True)
        .order(silent_child_change=True)
        .build()
    )
    customer = next(iter(store.customers.values()))
    assert customer.email is None
    assert customer.phone == "+14155550100"
    orders = [store.order(i) for i in store.order_ids()]
    assert orders[0].presentment_currency == "EUR"
    assert len(orders[0].line_items) == 3
    assert orders[0].financial_status == "PARTIALLY_REFUNDED"
    assert orders[1].financial_status == "REFUNDED"
    assert len(orders[2].refunds) == 2
    assert orders[3].cancelled_at is not None
    assert orders[3].created_at < NOW.timestamp() - 399 * 86400
    assert orders[4].customer_id is None
    assert orders[4].test
    assert orders[5].refunds[-1].updated_at > orders[5].updated_at
    assert store.customer_totals(customer.id)[0] == 5


def test_builder_rejects_unknown_refund_kind():
    with pytest.raises(ValueError, match="refund must be"):
        StoreBuilder(now=NOW).customer().order(refund="most")


def test_fault_specs():
    assert parse_fault_specs(["5xx=0.1", "bulk=timeout", "throttle_next=3"]) == Faults(
        error_rate=0.1, bulk="TIMEOUT", throttle_next=3
    )
    with pytest.raises(ValueError, match="unknown fault"):
        parse_fault_specs(["meteor=1"])


def test_sorted_index_patched_after_changes_equals_a_fresh_sort():
    store = generate_store(4, 60, 400, now=NOW)
    control_ids = list(store.order_ids())

    def key(oid):
        return (store.order_sort_value(oid, "updated_at"), oid)

    store.sorted_ids("Order", "UPDATED_AT", key)  # build the cache
    at = int(NOW.timestamp()) + 10
    mutations.cancel_order(store, control_ids[5], at)
    mutations.refund_order(store, control_ids[9], at + 1, amount="1.00")
    new = mutations.create_order(store, None, at + 2)
    mutations.delete_order(store, control_ids[20])
    patched = store.sorted_ids("Order", "UPDATED_AT", key)
    assert patched == sorted(store.order_ids(), key=key)
    assert new in patched
    assert control_ids[20] not in patched
    assert patched[-3:] == [control_ids[5], control_ids[9], new]
