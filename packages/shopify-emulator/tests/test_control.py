"""The control API (Python and HTTP) changes the store the way Shopify would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from shopify_emulator import StoreBuilder
from testkit.emulator_client import control, graphql

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUSTOMER = """query($id: ID!) { customer(id: $id) { id email updatedAt numberOfOrders
  amountSpent { amount } tags } }"""
ORDER = """query($id: ID!) { order(id: $id) { id updatedAt cancelledAt cancelReason
  customer { id } displayFinancialStatus totalRefundedSet { shopMoney { amount } }
  currentTotalPriceSet { shopMoney { amount } } refunds { id updatedAt } } }"""


def gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def customer(server, cid):
    return graphql(server, CUSTOMER, {"id": gid("Customer", cid)}).json()["data"]["customer"]


def order(server, oid):
    return graphql(server, ORDER, {"id": gid("Order", oid)}).json()["data"]["order"]


@pytest.fixture
def small(emulator_factory):
    builder = (
        StoreBuilder(seed=2, now=NOW)
        .customer(email="keep@example.com", tags=["a"])
        .order(line_items=2)
        .customer(email="gone@example.com", tags=["b"])
        .order()
        .order(refund="partial")
        .customer(email="lonely@example.com")
    )
    server = emulator_factory(store=builder.build())
    return server, builder


def test_create_and_update_customer_over_http(small):
    server, _ = small
    cid = control(server, "create_customer", email="new@example.com", first_name="Néw")
    created = customer(server, cid)
    assert created["email"] == "new@example.com"
    control(server, "advance_time", seconds=10)
    control(server, "update_customer", id=cid, email="changed@example.com", tags=["vip"])
    updated = customer(server, cid)
    assert updated["email"] == "changed@example.com"
    assert updated["tags"] == ["vip"]
    assert updated["updatedAt"] > created["updatedAt"]


def test_http_control_errors_name_the_record(small):
    server, builder = small
    response = requests.post(
        f"{server.base_url}/_emulator/delete_customer",
        json={"id": builder.customer_ids[0]},
        timeout=10,
    )
    assert response.status_code == 400
    assert str(builder.customer_ids[0]) in response.json()["error"]
    assert "associated orders" in response.json()["error"]
    lonely = builder.customer_ids[2]
    control(server, "delete_customer", id=lonely)
    assert customer(server, lonely) is None


def test_merge_moves_orders_and_removes_customer(small):
    server, builder = small
    keep, gone = builder.customer_ids[0], builder.customer_ids[1]
    moved = builder.order_ids[1:3]
    before = {oid: order(server, oid)["updatedAt"] for oid in moved}
    server.control.advance_time(5)
    server.control.merge_customers(keep, gone)
    assert customer(server, gone) is None
    kept = customer(server, keep)
    assert kept["numberOfOrders"] == "3"
    assert kept["tags"] == ["a", "b"]
    for oid in moved:
        after = order(server, oid)
        assert after["customer"]["id"] == gid("Customer", keep)
        assert after["updatedAt"] > before[oid]


def test_refund_and_cancel_bump_order_updated_at(small):
    server, builder = small
    oid = builder.order_ids[0]
    original = order(server, oid)
    server.control.advance_time(5)
    refund_id = server.control.refund_order(oid, amount="5.00")
    refunded = order(server, oid)
    assert refunded["totalRefundedSet"]["shopMoney"]["amount"] == "5.00"
    assert refunded["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert refunded["refunds"][-1]["id"] == gid("Refund", refund_id)
    assert refunded["updatedAt"] > original["updatedAt"]
    server.control.advance_time(5)
    server.control.cancel_order(oid, reason="FRAUD")
    cancelled = order(server, oid)
    assert cancelled["cancelReason"] == "FRAUD"
    assert cancelled["cancelledAt"] is not None
    assert cancelled["updatedAt"] > refunded["updatedAt"]


def test_full_refund_zeroes_current_total(small):
    server, builder = small
    oid = builder.order_ids[1]
    server.control.refund_order(oid)
    after = order(server, oid)
    assert after["displayFinancialStatus"] == "REFUNDED"
    assert after["currentTotalPriceSet"]["shopMoney"]["amount"] == "0.00"


def test_refund_rejects_more_than_refundable(small):
    server, builder = small
    with pytest.raises(ValueError, match=str(builder.order_ids[0])):
        server.control.refund_order(builder.order_ids[0], amount="100000.00")


def test_child_only_change_keeps_order_updated_at(small):
    server, builder = small
    oid = builder.order_ids[0]
    before = order(server, oid)
    server.control.advance_time(5)
    server.control.refund_order(oid, amount="1.00", touch_order=False)
    after = order(server, oid)
    assert after["updatedAt"] == before["updatedAt"]
    assert len(after["refunds"]) == len(before["refunds"]) + 1
    assert after["refunds"][-1]["updatedAt"] > after["updatedAt"]


def test_create_and_delete_order(small):
    server, builder = small
    cid = builder.customer_ids[2]
    oid = server.control.create_order(cid, line_items=3, currency="EUR")
    old = control(server, "create_order", customer_id=cid, created_at="2025-01-02T03:04:05Z")
    assert order(server, old)["id"] == gid("Order", old)
    server.control.delete_order(old)
    assert customer(server, cid)["numberOfOrders"] == "1"
    server.control.delete_order(oid)
    assert order(server, oid) is None
    assert customer(server, cid)["numberOfOrders"] == "0"


def test_snapshot_matches_served_data(small):
    server, _ = small
    snap = control(server, "snapshot")
    body = graphql(server, "{ customers(first: 10) { nodes { legacyResourceId email } } }").json()
    served = {int(n["legacyResourceId"]): n["email"] for n in body["data"]["customers"]["nodes"]}
    assert served == {c["id"]: c["email"] for c in snap["customers"]}
    assert len(snap["orders"]) == 3


def test_search_index_lag(emulator_factory):
    server = emulator_factory(store=StoreBuilder(now=NOW).customer().build(), index_lag_seconds=30)
    cid = server.control.create_customer(email="late@example.com")
    assert customer(server, cid)["email"] == "late@example.com"  # by id: immediately
    query = '{ customers(first: 10, query: "email:late@example.com") { nodes { id } } }'
    assert graphql(server, query).json()["data"]["customers"]["nodes"] == []
    everything = graphql(server, "{ customers(first: 10) { nodes { id } } }").json()
    assert len(everything["data"]["customers"]["nodes"]) == 2  # unfiltered lists are live
    server.control.advance_time(31)
    assert len(graphql(server, query).json()["data"]["customers"]["nodes"]) == 1


def test_search_index_lag_keeps_old_values(emulator_factory):
    server = emulator_factory(
        store=StoreBuilder(now=NOW).customer(email="old@example.com").build(),
        index_lag_seconds=30,
    )
    cid = server.control.snapshot()["customers"][0]["id"]
    server.control.update_customer(cid, email="new@example.com")
    old = '{ customers(first: 10, query: "email:old@example.com") { nodes { email } } }'
    assert graphql(server, old).json()["data"]["customers"]["nodes"] == [
        {"email": "new@example.com"}
    ]


def test_protected_customer_data_denial(shopify_emulator):
    shopify_emulator.control.set_protected_data_denied(True)
    body = graphql(
        shopify_emulator, "{ customers(first: 3) { nodes { id email firstName tags } } }"
    ).json()
    nodes = body["data"]["customers"]["nodes"]
    assert all(n["id"] and n["email"] is None and n["firstName"] is None for n in nodes)
    paths = [e["path"] for e in body["errors"]]
    assert ["customers", "nodes", 0, "email"] in paths
    assert all(e["extensions"]["code"] == "ACCESS_DENIED" for e in body["errors"])
    assert "not approved to use the email field" in body["errors"][0]["message"]
    shopify_emulator.control.set_protected_data_denied(False)
    assert (
        "errors"
        not in graphql(shopify_emulator, "{ customers(first: 3) { nodes { email } } }").json()
    )


def test_issue_token_over_http_limits_scopes(shopify_emulator):
    token = control(shopify_emulator, "issue_token", scopes=["read_customers"])
    body = graphql(
        shopify_emulator, "{ currentAppInstallation { accessScopes { handle } } }", token=token
    ).json()
    assert body["data"]["currentAppInstallation"]["accessScopes"] == [{"handle": "read_customers"}]


def test_unknown_control_method(shopify_emulator):
    response = requests.post(f"{shopify_emulator.base_url}/_emulator/drop_tables", timeout=10)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"currency": "XYZ"}, "currency 'XYZ'"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"financial_status": "BOGUS"}, "financial_status 'BOGUS'"),
    ],
)
def test_bad_order_fields_are_rejected_by_name(small, fields, message):
    server, builder = small
    response = requests.post(
        f"{server.base_url}/_emulator/create_order",
        json={"customer_id": builder.customer_ids[0], **fields},
        timeout=10,
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert len(server.control.snapshot()["orders"]) == 3  # nothing half-created
