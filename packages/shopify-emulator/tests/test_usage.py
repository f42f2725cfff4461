"""The control API reports what the apps spent: requests, cost points, bulk work."""

from __future__ import annotations

import time

import requests
from shopify_emulator import generate_store
from testkit.emulator_client import control, graphql

COUNT = "query { customersCount { count } }"
PAGE = "query { customers(first: 5) { nodes { id } } }"
BULK = """mutation { bulkOperationRunQuery(
  query: \"\"\"{ customers { edges { node { id } } } }\"\"\")
  { bulkOperation { id } userErrors { message } } }"""
POLL = "query { currentBulkOperation { status url } }"


def test_usage_counts_requests_cost_and_bulk_downloads(emulator_factory) -> None:
    server = emulator_factory(
        store=generate_store(seed=3, customers=12, orders=5), bulk_seconds=0.1
    )
    control(server, "reset_usage")
    assert control(server, "usage") == {
        "requests": 0,
        "executed": 0,
        "throttled": 0,
        "requested_cost": 0,
        "actual_cost": 0,
        "bulk_operations": 0,
        "bulk_downloads": 0,
        "bulk_download_bytes": 0,
    }
    costs = []
    for document in (COUNT, PAGE, BULK):
        costs.append(graphql(server, document).json()["extensions"]["cost"])
    url = None
    while url is None:
        time.sleep(0.05)
        answer = graphql(server, POLL).json()
        costs.append(answer["extensions"]["cost"])
        url = answer["data"]["currentBulkOperation"]["url"]
    body = requests.get(url, timeout=10).content
    usage = control(server, "usage")
    assert usage == {
        "requests": len(costs),
        "executed": len(costs),
        "throttled": 0,
        "requested_cost": sum(c["requestedQueryCost"] for c in costs),
        "actual_cost": sum(c["actualQueryCost"] for c in costs),
        "bulk_operations": 1,
        "bulk_downloads": 1,
        "bulk_download_bytes": len(body),
    }
    control(server, "reset_usage")
    assert control(server, "usage")["requests"] == 0
