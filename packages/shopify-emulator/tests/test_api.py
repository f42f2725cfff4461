"""The GraphQL Admin API over HTTP: auth, shapes, versions, pagination errors, scopes."""

from __future__ import annotations

import pytest
from testkit.emulator_client import graphql

CUSTOMER_FIELDS = """
id legacyResourceId email phone firstName lastName displayName
defaultAddress { city province provinceCode country countryCodeV2 zip }
numberOfOrders amountSpent { amount currencyCode }
emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom }
tags state verifiedEmail note createdAt updatedAt
metafields(first: 5) { nodes { namespace key value type } }
"""

ORDER_FIELDS = """
id name legacyResourceId createdAt processedAt updatedAt cancelledAt cancelReason closedAt
test customer { id } email phone currencyCode presentmentCurrencyCode
totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
currentTotalPriceSet { shopMoney { amount } }
totalRefundedSet { shopMoney { amount } }
displayFinancialStatus displayFulfillmentStatus sourceName tags
lineItems(first: 5) { nodes { id sku title name quantity currentQuantity vendor
  product { id } variant { id } originalUnitPriceSet { shopMoney { amount } } } }
refunds(first: 5) { id createdAt note totalRefundedSet { shopMoney { amount } }
  refundLineItems(first: 5) {
    nodes { quantity lineItem { id } subtotalSet { shopMoney { amount } } } } }
transactions(first: 5) { id kind status gateway amountSet { shopMoney { amount } } }
"""


def test_wrong_token_gets_shopify_401_body(shopify_emulator):
    response = graphql(shopify_emulator, "{ shop { name } }", token="shpat_wrong")
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_shop_and_app_installation(shopify_emulator):
    body = graphql(
        shopify_emulator,
        "{ shop { name myshopifyDomain currencyCode ianaTimezone }"
        " currentAppInstallation { accessScopes { handle } } }",
    ).json()
    assert body["data"]["shop"]["myshopifyDomain"] == shopify_emulator.shop_domain
    assert body["data"]["shop"]["currencyCode"] == "USD"
    handles = {s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]}
    assert {"read_customers", "read_orders", "read_all_orders"} <= handles


def test_customer_shapes_follow_shopify_scalars(shopify_emulator):
    body = graphql(
        shopify_emulator, f"{{ customers(first: 50) {{ nodes {{ {CUSTOMER_FIELDS} }} }} }}"
    ).json()
    assert "errors" not in body
    nodes = body["data"]["customers"]["nodes"]
    assert len(nodes) == 40
    first = nodes[0]
    assert first["id"].startswith("gid://shopify/Customer/")
    assert isinstance(first["legacyResourceId"], str)  # UnsignedInt64 is a string
    assert isinstance(first["numberOfOrders"], str)
    assert isinstance(first["amountSpent"]["amount"], str)  # Decimal is a string
    assert any(n["email"] is None for n in nodes)
    snapshot = shopify_emulator.control.snapshot()
    truth = {c["id"]: c for c in snapshot["customers"]}
    for node in nodes:
        expected = truth[int(node["legacyResourceId"])]
        assert node["email"] == expected["email"]
        assert node["amountSpent"]["amount"] == expected["amount_spent"]
        assert int(node["numberOfOrders"]) == expected["number_of_orders"]


def test_order_shapes_and_money(shopify_emulator):
    body = graphql(
        shopify_emulator, f"{{ orders(first: 5, sortKey: ID) {{ nodes {{ {ORDER_FIELDS} }} }} }}"
    ).json()
    assert "errors" not in body, body.get("errors")
    truth = {o["id"]: o for o in shopify_emulator.control.snapshot()["orders"]}
    for node in body["data"]["orders"]["nodes"]:
        expected = truth[int(node["legacyResourceId"])]
        assert node["name"] == expected["name"]
        assert node["totalPriceSet"]["shopMoney"]["amount"] == expected["total_price"]
        assert (
            node["currentTotalPriceSet"]["shopMoney"]["amount"] == expected["current_total_price"]
        )
        assert node["totalRefundedSet"]["shopMoney"]["amount"] == expected["total_refunded"]
        assert len(node["refunds"]) == len(expected["refunds"])


def test_single_lookups_by_gid(shopify_emulator):
    order = shopify_emulator.control.snapshot()["orders"][3]
    body = graphql(
        shopify_emulator,
        "query($id: ID!) { order(id: $id) { name } node(id: $id) { id ... on Order { name } } }",
        {"id": order["admin_graphql_api_id"]},
    ).json()
    assert body["data"]["order"]["name"] == order["name"]
    assert body["data"]["node"]["name"] == order["name"]
    missing = graphql(
        shopify_emulator, '{ customer(id: "gid://shopify/Customer/1") { id } }'
    ).json()
    assert missing["data"]["customer"] is None


def test_counts(shopify_emulator):
    body = graphql(
        shopify_emulator,
        '{ customersCount { count precision } ordersCount(query: "test:true")'
        " { count precision } }",
    ).json()
    assert body["data"]["customersCount"] == {"count": 40, "precision": "EXACT"}
    tests = [o for o in shopify_emulator.control.snapshot()["orders"] if o["test"]]
    assert body["data"]["ordersCount"] == {"count": len(tests), "precision": "EXACT"}
    limited = graphql(shopify_emulator, "{ ordersCount(limit: 5) { count precision } }").json()
    assert limited["data"]["ordersCount"] == {"count": 5, "precision": "AT_LEAST"}


def test_first_or_last_is_required(shopify_emulator):
    body = graphql(shopify_emulator, "{ customers { nodes { id } } }").json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["errors"][0]["path"] == ["customers"]


def test_page_size_is_capped_at_250(shopify_emulator):
    body = graphql(shopify_emulator, "{ customers(first: 251) { nodes { id } } }").json()
    assert "250" in body["errors"][0]["message"]


def test_versions_fall_forward_and_add_fields(shopify_emulator):
    response = graphql(shopify_emulator, "{ shop { name } }", version="2023-04")
    assert response.headers["X-Shopify-API-Version"] == "2025-01"
    query = "{ customers(first: 1) { nodes { defaultEmailAddress { emailAddress } } } }"
    old = graphql(shopify_emulator, query, version="2025-01").json()
    assert "defaultEmailAddress" in old["errors"][0]["message"]
    new = graphql(shopify_emulator, query, version="2025-04")
    assert new.headers["X-Shopify-API-Version"] == "2025-04"
    assert "errors" not in new.json()


def test_syntax_and_validation_errors_are_http_200(shopify_emulator):
    response = graphql(shopify_emulator, "{ shop { nosuchfield } }")
    assert response.status_code == 200
    assert "nosuchfield" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("scopes", "query", "denied"),
    [
        (["read_orders"], "{ customers(first: 1) { nodes { id } } }", "read_customers"),
        (["read_customers"], "{ orders(first: 1) { nodes { id } } }", "read_orders"),
    ],
)
def test_missing_scope_is_access_denied(shopify_emulator, scopes, query, denied):
    token = shopify_emulator.control.issue_token(scopes)
    body = graphql(shopify_emulator, query, token=token).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert denied in error["message"]


def test_orders_older_than_60_days_need_read_all_orders(shopify_emulator):
    token = shopify_emulator.control.issue_token(["read_orders", "read_customers"])
    query = "{ ordersCount(limit: 100000) { count } }"
    limited = graphql(shopify_emulator, query, token=token).json()["data"]["ordersCount"]["count"]
    full = graphql(shopify_emulator, query).json()["data"]["ordersCount"]["count"]
    assert 0 < limited < full
    old = next(
        o for o in shopify_emulator.control.snapshot()["orders"] if o["created_at"] < "2025-01-01"
    )
    lookup = "query($id: ID!) { order(id: $id) { id } }"
    variables = {"id": old["admin_graphql_api_id"]}
    assert graphql(shopify_emulator, lookup, variables, token=token).json()["data"]["order"] is None
    assert graphql(shopify_emulator, lookup, variables).json()["data"]["order"] is not None


def test_deprecated_fields_are_named_in_a_header_from_2025_04(shopify_emulator):
    query = "{ customers(first: 1) { nodes { email emailMarketingConsent { marketingState } } } }"
    old = graphql(shopify_emulator, query, version="2025-01")
    assert old.headers["X-Shopify-API-Deprecated-Reason"].startswith("https://shopify.dev/")
    new = graphql(shopify_emulator, query, version="2025-04")
    assert new.headers["X-Shopify-API-Deprecated-Reason"] == (
        "Customer.email, Customer.emailMarketingConsent"
    )
    clean = graphql(shopify_emulator, "{ shop { name } }", version="2025-04")
    assert "X-Shopify-API-Deprecated-Reason" not in clean.headers
