"""The Ometria stand-in over real HTTP: limits, "OK" means received, async errors, upsert."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

import pytest
import requests
from platform_standins import OmetriaStandin
from platform_standins.ometria import OmetriaLimits
from platform_standins.ometria_rules import record_bytes


def contact(record_id, **fields):
    return {"@type": "contact", "@collection": "shopify", "id": record_id, **fields}


def order(record_id, **fields):
    return {"@type": "order", "id": record_id, **fields}


def push(om, records, headers=None):
    data = records if isinstance(records, bytes) else json.dumps(records).encode()
    sent = {"Content-Type": "application/json", **om.auth_headers(), **(headers or {})}
    return requests.post(om.push_url, data=data, headers=sent, timeout=10)


def errors(om, headers=None):
    sent = {**om.auth_headers(), **(headers or {})}
    return requests.get(f"{om.push_url}/_errors", headers=sent, timeout=10)


def padded(record_id, total_bytes):
    """A contact whose compact JSON is exactly ``total_bytes`` bytes."""
    base = record_bytes(contact(record_id, note=""))
    record = contact(record_id, note="x" * (total_bytes - base))
    assert record_bytes(record) == total_bytes
    return record


@pytest.fixture(scope="module")
def shared_om():
    """One server for the module's tests (a server start and stop costs ~0.2 s)."""
    with OmetriaStandin() as om:
        yield om


@pytest.fixture
def default_om(shared_om):
    """The shared server, reset to an empty account with the documented limits."""
    shared_om.control.reset()
    shared_om.control.configure(**asdict(OmetriaLimits()))
    return shared_om


@pytest.fixture
def om(default_om):
    """A rate high enough that tests pushing a lot do not trip it."""
    default_om.control.configure(requests_per_second=1_000)
    return default_om


def test_ok_only_means_received(ometria_standin):
    om = ometria_standin
    response = push(om, [contact("c1", email="ann@example.com")])

    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "OK", "request_id": body["request_id"], "accepted": 1, "rejected": 0}
    uuid.UUID(body["request_id"])
    assert response.headers["X-QueueSize-Limit"] == "50000"
    assert response.headers["X-QueueSize-Remaining"] == "49999"
    # Validation runs after the processing delay: nothing is stored yet.
    assert om.control.records() == []
    assert om.control.history()[0]["status"] == "queued"
    om.control.advance_time(0.25)
    [stored] = om.control.records()
    assert stored["record"] == contact("c1", email="ann@example.com")
    assert om.control.history()[0]["request_id"] == body["request_id"]


def test_records_upsert_by_id_and_keep_every_receipt(om):
    push(om, [contact("c1", email="old@example.com", firstname="Ann")])
    push(om, [contact("c1", email="new@example.com"), contact("c2", email="bo@example.com")])
    push(om, [order("o1", status="complete", is_valid=True)])
    push(om, [order("o1", status="cancelled", is_valid=False)])
    om.control.drain()

    assert om.control.record("contact", "c1", "shopify") == contact(
        "c1", email="new@example.com", firstname="Ann"
    )
    assert om.control.record("order", "o1") == order("o1", status="cancelled", is_valid=False)
    assert [(r["type"], r["id"], r["receipts"]) for r in om.control.records()] == [
        ("contact", "c1", 2),
        ("contact", "c2", 1),
        ("order", "o1", 2),
    ]
    assert [r["record"].get("email") for r in om.control.history(type="contact", id="c1")] == [
        "old@example.com",
        "new@example.com",
    ]
    assert om.control.counts()["stored"] == 5


def test_collections_keep_contacts_apart(om):
    push(om, [contact("c1", email="a@example.com"), {**contact("c1"), "@collection": "pos"}])
    om.control.drain()
    assert len(om.control.records(type="contact")) == 2


def test_one_hundred_records_pass_and_101_are_refused_whole(om):
    hundred = [contact(f"c{i}") for i in range(100)]
    assert push(om, hundred).json()["accepted"] == 100
    response = push(om, [*hundred, contact("c100")])

    assert response.status_code == 400
    assert "101 records" in response.json()["message"]
    assert om.control.counts()["received"] == 100


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ([contact("c1"), order("o1")], "one object type per call"),
        ({"@type": "contact", "id": "c1"}, "JSON array"),
        ([], "empty"),
        (b"[{oops", "not UTF-8 JSON"),
        (["c1"], "JSON object"),
    ],
    ids=["mixed-types", "not-an-array", "empty", "malformed", "not-objects"],
)
def test_calls_ometria_cannot_take_are_400(om, body, phrase):
    response = push(om, body)
    assert response.status_code == 400
    assert phrase in response.json()["message"]
    assert om.control.history() == []


def test_sixty_kb_per_record(om):
    response = push(om, [padded("fits", 60_000), padded("too-big", 60_001), contact("small")])

    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert response.json()["rejected"] == 1
    om.control.drain()
    assert sorted(r["id"] for r in om.control.records()) == ["fits", "small"]
    [rejected] = om.control.rejected()
    assert rejected["id"] == "too-big"
    assert errors(om).json() == [
        {"error_message": "Payload invalid: Record is too large.", "error_path": "root"}
    ]


def test_validation_errors_arrive_after_the_delay(om):
    bad = contact("c1", marketing_optin="YES_PLEASE")
    response = push(om, [bad, contact("c2", marketing_optin="EXPLICITLY_OPTEDOUT")])

    assert response.json()["accepted"] == 2  # "OK" is not "valid"
    assert errors(om).json() == []
    om.control.advance_time(0.3)
    assert errors(om).json() == [
        {"error_message": "not a valid value", "error_path": "root > marketing_optin"}
    ]
    [error] = om.control.errors()
    assert (error["@type"], error["id"], error["request_id"]) == (
        "contact",
        "c1",
        response.json()["request_id"],
    )
    assert [r["id"] for r in om.control.records()] == ["c2"]
    assert om.control.counts() | {"requests_by_outcome": None} == {
        "requests": 3,
        "requests_by_outcome": None,
        "received": 2,
        "queued": 0,
        "stored": 1,
        "rejected": 1,
        "records_by_type": {"contact": 1},
    }


def test_processing_delay_is_configurable(om):
    om.control.configure(processing_delay_seconds=5)
    push(om, [contact("c1", email="nope")])
    om.control.advance_time(4.9)
    assert om.control.errors() == []
    om.control.advance_time(0.2)
    assert [e["error_path"] for e in om.control.errors()] == ["root > email"]


def test_errors_list_shows_the_latest_100_newest_first(om):
    for batch in range(2):
        push(om, [contact(f"c{batch}-{i}", email=f"bad-{batch}-{i}") for i in range(60)])
    om.control.drain()

    listed = errors(om).json()
    assert len(listed) == 100
    assert len(om.control.errors()) == 120
    newest = om.control.errors()[-1]
    assert newest["id"] == "c1-59"
    assert listed[0] == {
        "error_message": newest["error_message"],
        "error_path": newest["error_path"],
    }


def test_about_eight_requests_per_second_then_429(default_om):
    om = default_om
    statuses = [push(om, [contact(f"c{i}")]).status_code for i in range(9)]

    assert statuses == [200] * 8 + [429]
    assert om.control.counts()["received"] == 8
    om.control.advance_time(1.0)
    response = push(om, [contact("later")])
    assert response.status_code == 200


def test_rate_limited_answer_carries_queue_headers(default_om):
    om = default_om
    om.control.configure(requests_per_second=1, retry_after_seconds=1)
    push(om, [contact("c1")])
    response = push(om, [contact("c2")])
    assert response.status_code == 429
    assert response.headers["X-QueueSize-Limit"] == "50000"
    assert response.headers["X-QueueSize-Remaining"] == "49999"
    assert response.headers["Retry-After"] == "1"


def test_full_queue_is_429_until_it_drains(om):
    om.control.configure(queue_limit=150, processing_delay_seconds=60)
    assert push(om, [contact(f"a{i}") for i in range(100)]).status_code == 200
    response = push(om, [contact(f"b{i}") for i in range(51)])

    assert response.status_code == 429
    assert response.headers["X-QueueSize-Limit"] == "150"
    assert response.headers["X-QueueSize-Remaining"] == "50"
    assert "Retry-After" not in response.headers
    assert push(om, [contact(f"b{i}") for i in range(50)]).status_code == 200
    assert om.control.queue() == {"queued": 150, "limit": 150, "remaining": 0}
    om.control.advance_time(60)
    assert om.control.queue() == {"queued": 0, "limit": 150, "remaining": 150}
    assert push(om, [contact("c")]).status_code == 200
    assert [r["outcome"] for r in om.control.requests()] == ["ok", "queue_full", "ok", "ok"]


@pytest.mark.parametrize(
    "headers", [{"X-Ometria-Auth": ""}, {"X-Ometria-Auth": "wrong"}], ids=["missing", "wrong"]
)
def test_bad_key_is_401_for_push_and_errors(om, headers):
    assert push(om, [contact("c1")], headers=headers).status_code == 401
    assert errors(om, headers=headers).status_code == 401
    assert om.control.history() == []
    assert [r["outcome"] for r in om.control.requests()] == ["unauthorized", "unauthorized"]


def test_data_deletion_requests_auth_body_rate_and_record(default_om):
    om = default_om
    url = f"{om.base_url}/v2/data-deletion-requests"
    body = {"email": "ann@example.com", "comment": "customers/redact"}
    assert requests.post(url, json=body, timeout=10).status_code == 403
    no_email = requests.post(url, json={"comment": "x"}, headers=om.auth_headers(), timeout=10)
    assert no_email.status_code == 400
    assert om.control.deletion_requests() == []
    taken = [requests.post(url, json=body, headers=om.auth_headers(), timeout=10) for _ in range(6)]
    assert {r.status_code for r in taken} == {200}
    assert all(r.json()["action"] == "anonymise" and r.json()["id"] for r in taken)
    assert "ann@example.com" not in taken[0].text  # the answer does not echo the email
    # "A maximum of six requests per minute".
    assert requests.post(url, json=body, headers=om.auth_headers(), timeout=10).status_code == 429
    om.control.advance_time(60)
    assert requests.post(url, json=body, headers=om.auth_headers(), timeout=10).status_code == 200
    assert [r["email"] for r in om.control.deletion_requests()] == ["ann@example.com"] * 7
