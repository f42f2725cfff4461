"""Bulk query operations over HTTP: lifecycle, JSONL, versions, limits, faults, expiry."""

from __future__ import annotations

import json
import time

import pytest
import requests
from shopify_emulator import bulk
from testkit.emulator_client import graphql

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status } userErrors { field message code } } }"""
RUN_GROUPED = """mutation($q: String!, $g: Boolean!) {
  bulkOperationRunQuery(query: $q, groupObjects: $g) {
  bulkOperation { id status } userErrors { field message code } } }"""
POLL = """{ currentBulkOperation { id status errorCode objectCount rootObjectCount fileSize
  url partialDataUrl createdAt completedAt } }"""
NODE_POLL = """query($id: ID!) { node(id: $id) { ... on BulkOperation { id status url } } }"""
ORDERS = """{ orders { edges { node { id name refunds { id }
  lineItems { edges { node { id sku quantity } } } } } } }"""


def start_bulk(server, query=ORDERS, version="2025-01", group=None):
    if group is None:
        body = graphql(server, RUN, {"q": query}, version=version).json()
    else:
        body = graphql(server, RUN_GROUPED, {"q": query, "g": group}, version=version).json()
    return body["data"]["bulkOperationRunQuery"]


def wait_done(server, version="2025-01", timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        op = graphql(server, POLL, version=version).json()["data"]["currentBulkOperation"]
        if op["status"] not in ("CREATED", "RUNNING", "CANCELING") or time.monotonic() > deadline:
            return op
        time.sleep(0.05)


def download(url):
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    return [json.loads(line) for line in response.text.splitlines()]


def test_bulk_lifecycle_and_jsonl_with_parent_ids(emulator_factory):
    server = emulator_factory(bulk_seconds=0.4)
    started = start_bulk(server)
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] == "CREATED"
    op = wait_done(server)
    assert op["status"] == "COMPLETED"
    lines = download(op["url"])
    roots = [line for line in lines if "__parentId" not in line]
    children = [line for line in lines if "__parentId" in line]
    snapshot = server.control.snapshot()["orders"]
    assert len(roots) == len(snapshot) == int(op["rootObjectCount"])
    assert int(op["objectCount"]) == len(lines)
    assert int(op["fileSize"]) == len(requests.get(op["url"], timeout=30).content)
    assert all("edges" not in line for line in lines)
    expected_lines = sum(len(o["line_items"]) for o in snapshot)
    assert len(children) == expected_lines
    # Grouped (2025-01): every child follows its parent.
    seen = set()
    for line in lines:
        if "__parentId" in line:
            assert line["__parentId"] in seen
        else:
            seen.add(line["id"])
    # Plain lists (refunds) stay inline in the parent line.
    assert all(isinstance(r["refunds"], list) for r in roots)
    node = graphql(server, NODE_POLL, {"id": op["id"]}).json()["data"]["node"]
    assert node["status"] == "COMPLETED"


def test_status_moves_through_running(emulator_factory):
    server = emulator_factory(bulk_seconds=3.0)
    start_bulk(server)
    time.sleep(0.2)
    op = graphql(server, POLL).json()["data"]["currentBulkOperation"]
    assert op["status"] == "RUNNING"
    assert op["url"] is None
    assert wait_done(server)["status"] == "COMPLETED"


def test_one_bulk_query_at_a_time_before_2026_01(emulator_factory):
    server = emulator_factory(bulk_seconds=60)
    assert start_bulk(server)["userErrors"] == []
    second = start_bulk(server)
    assert second["bulkOperation"] is None
    assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"


def test_five_concurrent_from_2026_01_and_ungrouped_default(emulator_factory):
    busy = emulator_factory(bulk_seconds=60)
    for _ in range(5):
        assert start_bulk(busy, version="2026-01")["userErrors"] == []
    sixth = start_bulk(busy, version="2026-01")
    assert sixth["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    server = emulator_factory(bulk_seconds=0.2)
    start_bulk(server, version="2026-01")
    op = wait_done(server, version="2026-01")
    lines = download(op["url"])
    seen, orphan_first = set(), False
    for line in lines:
        if "__parentId" in line and line["__parentId"] not in seen:
            orphan_first = True
        seen.add(line.get("id"))
    assert orphan_first, "ungrouped output should not keep children after parents"


def test_group_objects_argument_exists_from_2025_07(emulator_factory):
    server = emulator_factory(bulk_seconds=0.2)
    old = graphql(server, RUN_GROUPED, {"q": ORDERS, "g": True}, version="2025-01").json()
    assert "groupObjects" in old["errors"][0]["message"]
    assert start_bulk(server, version="2025-07", group=True)["userErrors"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ node(id: "gid://shopify/Order/1") { id } }', "top level `node`"),
        ("{ shop { name } }", "at least one connection"),
        (
            "{ customers { edges { node { id orders { edges { node { id lineItems"
            " { edges { node { id } } } } } } } } } }",
            "nesting depth",
        ),
        ("{ nosuch { id } }", "Invalid bulk query"),
        (
            "{ orders { edges { node { name lineItems { edges { node { id } } } } } } }",
            "must select the 'id' field",
        ),
        (
            "{ orders { edges { node { id refunds { id refundLineItems { edges { node"
            " { quantity } } } } } } } }",
            "connection field within a list field",
        ),
    ],
)
def test_invalid_bulk_queries(emulator_factory, query, message):
    server = emulator_factory()
    result = start_bulk(server, query=query)
    assert result["bulkOperation"] is None
    assert result["userErrors"][0]["code"] == "INVALID"
    assert message in result["userErrors"][0]["message"]


def test_cancel(emulator_factory):
    server = emulator_factory(bulk_seconds=30)
    op_id = start_bulk(server)["bulkOperation"]["id"]
    cancel = graphql(
        server,
        "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status }"
        " userErrors { message } } }",
        {"id": op_id},
    ).json()["data"]["bulkOperationCancel"]
    assert cancel["userErrors"] == []
    assert cancel["bulkOperation"]["status"] in ("CANCELING", "CANCELED")
    assert wait_done(server)["status"] == "CANCELED"
    assert start_bulk(server)["userErrors"] == []


def test_url_expires_after_seven_days(emulator_factory):
    server = emulator_factory(bulk_seconds=0.1)
    start_bulk(server)
    url = wait_done(server)["url"]
    assert requests.get(url, timeout=30).status_code == 200
    server.control.advance_time(7 * 86_400 + 60)
    expired = requests.get(url, timeout=30)
    assert expired.status_code == 403
    assert b"ExpiredToken" in expired.content


@pytest.mark.parametrize(
    ("outcome", "code"), [("FAILED", "INTERNAL_SERVER_ERROR"), ("TIMEOUT", "TIMEOUT")]
)
def test_failed_bulk_leaves_partial_data(emulator_factory, outcome, code):
    server = emulator_factory(bulk_seconds=0.1)
    server.control.set_faults(bulk=outcome, bulk_next=1)
    start_bulk(server)
    op = wait_done(server)
    assert op["status"] == "FAILED"
    assert op["errorCode"] == code
    assert op["url"] is None
    partial = download(op["partialDataUrl"])
    assert 0 < len(partial) < int(server.control.snapshot()["orders"].__len__()) * 10
    # The fault was for one operation only.
    start_bulk(server)
    assert wait_done(server)["status"] == "COMPLETED"


def test_expired_and_truncated_outcomes(emulator_factory):
    server = emulator_factory(bulk_seconds=0.1)
    server.control.set_faults(bulk="EXPIRED", bulk_next=1)
    start_bulk(server)
    op = wait_done(server)
    assert op["status"] == "EXPIRED"
    assert op["url"] is None
    server.control.set_faults(bulk="TRUNCATED", bulk_next=1)
    start_bulk(server)
    op = wait_done(server)
    assert op["status"] == "COMPLETED"
    body = requests.get(op["url"], timeout=30).content
    assert len(body) < int(op["fileSize"])
    last_line = body.decode("utf-8", "replace").splitlines()[-1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(last_line)


def test_bulk_respects_read_all_orders(emulator_factory):
    server = emulator_factory(bulk_seconds=0.1)
    token = server.control.issue_token(["read_orders"])
    body = graphql(
        server, RUN, {"q": "{ orders { edges { node { id createdAt } } } }"}, token=token
    )
    assert body.json()["data"]["bulkOperationRunQuery"]["userErrors"] == []
    time.sleep(0.3)
    op = graphql(server, POLL, token=token).json()["data"]["currentBulkOperation"]
    lines = download(op["url"])
    assert 0 < len(lines) < len(server.control.snapshot()["orders"])


def test_protected_data_denial_fails_the_bulk_operation(emulator_factory):
    server = emulator_factory(bulk_seconds=0.1)
    server.control.set_protected_data_denied(True)
    start_bulk(server, query="{ customers { edges { node { id email } } } }")
    op = wait_done(server)
    assert op["status"] == "FAILED"
    assert op["errorCode"] == "ACCESS_DENIED"


def test_bulk_operation_by_id_from_2026_01(emulator_factory):
    server = emulator_factory(bulk_seconds=0.1)
    op_id = start_bulk(server, version="2026-01")["bulkOperation"]["id"]
    wait_done(server, version="2026-01")
    query = "query($id: ID!) { bulkOperation(id: $id) { id status } }"
    body = graphql(server, query, {"id": op_id}, version="2026-01").json()
    assert body["data"]["bulkOperation"] == {"id": op_id, "status": "COMPLETED"}
    old = graphql(server, query, {"id": op_id}, version="2025-10").json()
    assert "bulkOperation" in old["errors"][0]["message"]


def test_bulk_output_is_sliced_but_complete(emulator_factory, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 7)  # many slices over the 200 orders
    server = emulator_factory(bulk_seconds=0.1)
    start_bulk(server, query="{ orders(sortKey: UPDATED_AT) { edges { node { id updatedAt } } } }")
    lines = download(wait_done(server)["url"])
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)) == len(server.control.snapshot()["orders"])
    stamps = [line["updatedAt"] for line in lines]
    assert stamps == sorted(stamps)
