"""Query cost, the leaky bucket, THROTTLED / MAX_COST_EXCEEDED, and injected faults."""

from __future__ import annotations

import time

import pytest
import requests
from shopify_emulator import generate_store
from testkit.emulator_client import graphql


def cost_of(body):
    return body["extensions"]["cost"]


def test_requested_and_actual_cost(shopify_emulator):
    body = graphql(shopify_emulator, "{ customers(first: 100) { nodes { id email } } }").json()
    cost = cost_of(body)
    assert cost["requestedQueryCost"] == 2 + 100 * 1
    assert cost["actualQueryCost"] == 2 + 40 * 1  # only 40 customers came back
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0
    assert status["restoreRate"] == 100.0
    assert status["currentlyAvailable"] >= 2000 - cost["actualQueryCost"] - 1


def test_nested_connection_and_object_costs(shopify_emulator):
    query = """{ orders(first: 5) { edges { node { id totalPriceSet { shopMoney { amount } }
      lineItems(first: 3) { nodes { id } } } } pageInfo { hasNextPage } } }"""
    cost = cost_of(graphql(shopify_emulator, query).json())
    # connection 2 + 5 x (order 1 + MoneyBag 1 + MoneyV2 1 + lineItems (2 + 3 x 1))
    assert cost["requestedQueryCost"] == 2 + 5 * (1 + 2 + 2 + 3)


def test_mutation_costs_ten(shopify_emulator):
    body = graphql(
        shopify_emulator,
        'mutation { bulkOperationCancel(id: "gid://shopify/BulkOperation/1")'
        " { userErrors { message } } }",
    ).json()
    assert cost_of(body)["requestedQueryCost"] == 10


def test_max_cost_exceeded_has_shopify_shape(shopify_emulator):
    query = """{ customers(first: 250) { nodes { id amountSpent { amount }
      defaultAddress { city } emailMarketingConsent { marketingState } } } }"""
    response = graphql(shopify_emulator, query)
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert "extensions" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * 4
    assert error["extensions"]["maxCost"] == 1000
    assert error["message"].startswith(
        "Query cost is 1002, which exceeds the single query max cost limit (1000)."
    )


def test_bucket_drains_and_throttles_then_restores(emulator_factory):
    server = emulator_factory(store=generate_store(1, 260, 0))
    query = "{ customers(first: 249) { nodes { id metafields(first: 1) { nodes { id } } } } }"
    # Each query uses ~775 points; the bucket (2000) refills 100/s: it runs dry quickly.
    for _ in range(6):
        throttled = graphql(server, query).json()
        if "errors" in throttled:
            break
    assert "data" not in throttled
    assert throttled["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    cost = cost_of(throttled)
    assert cost["actualQueryCost"] is None
    assert (
        cost["currentlyAvailable"] if False else cost["throttleStatus"]["currentlyAvailable"] < 998
    )
    server.control.advance_time(20)
    assert "data" in graphql(server, query).json()


@pytest.mark.parametrize(
    ("plan", "size", "rate"), [("advanced", 4000.0, 200.0), ("plus", 20000.0, 1000.0)]
)
def test_plans(emulator_factory, plan, size, rate):
    server = emulator_factory(plan=plan)
    status = cost_of(graphql(server, "{ shop { name } }").json())["throttleStatus"]
    assert (status["maximumAvailable"], status["restoreRate"]) == (size, rate)


def test_throttle_storm(shopify_emulator):
    shopify_emulator.control.set_faults(throttle_next=2)
    codes = [
        graphql(shopify_emulator, "{ shop { name } }").json().get("errors", [{}])[0]
        for _ in range(2)
    ]
    assert all(c["extensions"]["code"] == "THROTTLED" for c in codes)
    shopify_emulator.control.advance_time(30)
    assert "data" in graphql(shopify_emulator, "{ shop { name } }").json()


def test_http_5xx_fault(shopify_emulator):
    shopify_emulator.control.set_faults(error_next=1, error_status=502)
    assert graphql(shopify_emulator, "{ shop { name } }").status_code == 502
    assert graphql(shopify_emulator, "{ shop { name } }").status_code == 200


def test_dropped_connection_fault(shopify_emulator):
    shopify_emulator.control.set_faults(drop_next=1)
    with pytest.raises(requests.exceptions.RequestException):
        graphql(shopify_emulator, "{ shop { name } }").json()
    assert graphql(shopify_emulator, "{ shop { name } }").status_code == 200


def test_slow_response_fault(shopify_emulator):
    shopify_emulator.control.set_faults(slow_next=1, slow_seconds=0.6)
    started = time.monotonic()
    graphql(shopify_emulator, "{ shop { name } }")
    assert time.monotonic() - started >= 0.6
    shopify_emulator.control.clear_faults()
    started = time.monotonic()
    graphql(shopify_emulator, "{ shop { name } }")
    assert time.monotonic() - started < 0.6


def test_fault_rates_apply_to_a_share_of_requests(shopify_emulator):
    shopify_emulator.control.set_faults(error_rate=0.5)
    statuses = [graphql(shopify_emulator, "{ shop { name } }").status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35
