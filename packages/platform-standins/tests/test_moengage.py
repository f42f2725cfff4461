"""The MoEngage stand-in over real HTTP: auth, limits, always-200, silent drops, no dedup."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict

import pytest
import requests
from platform_standins import MoEngageStandin
from platform_standins.moengage import MoEngageLimits
from platform_standins.moengage_rules import ACCEPTED_MESSAGE, FORBIDDEN_CUSTOMER_IDS

ACCEPTED = {"status": "success", "message": ACCEPTED_MESSAGE}


@pytest.fixture(scope="module")
def shared_moe():
    """One server for the module's many table rows (a server start and stop costs ~0.2 s)."""
    with MoEngageStandin() as moe:
        yield moe


@pytest.fixture
def moe(shared_moe):
    """The shared server, reset to an empty workspace with the documented limits."""
    shared_moe.control.reset()
    shared_moe.control.configure(**asdict(MoEngageLimits()))
    return shared_moe


def transition(*elements):
    return {"type": "transition", "elements": list(elements)}


def customer(customer_id, **attributes):
    return {"type": "customer", "customer_id": customer_id, "attributes": attributes}


def event(customer_id, *actions):
    return {"type": "event", "customer_id": customer_id, "actions": list(actions)}


def action(name="Order Placed", **fields):
    return {"action": name, "platform": "unknown", **fields}


def post(moe, payload, headers=None, **kwargs):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **moe.auth_headers(), **(headers or {})}
    kwargs.setdefault("timeout", 10)
    return requests.post(moe.transition_url, data=data, headers=sent, **kwargs)


def sized(total_bytes):
    """A one-customer transition body of exactly ``total_bytes`` bytes."""
    base = json.dumps(transition(customer("c-1", pad=""))).encode()
    body = json.dumps(transition(customer("c-1", pad="x" * (total_bytes - len(base))))).encode()
    assert len(body) == total_bytes
    return body


def test_accepted_request_is_stored_with_its_request(moengage_standin):
    moe = moengage_standin
    payload = transition(
        customer("ann@example.com", first_name="Ann"),
        event("ann@example.com", action(current_time="2026-01-02T03:04:05Z", attributes={"n": 1})),
    )
    response = post(moe, payload, headers={"X-Request-Id": "ours-1"})

    assert response.status_code == 200
    assert response.json() == ACCEPTED
    [logged] = moe.control.requests()
    assert logged["outcome"] == "accepted"
    assert (logged["elements"], logged["users"], logged["events"]) == (2, 1, 1)
    assert logged["client_request_id"] == "ours-1"
    assert "authorization" not in logged["headers"]
    elements = moe.control.elements()
    assert [(e["type"], e["status"], e["request_id"]) for e in elements] == [
        ("customer", "stored", logged["request_id"]),
        ("event", "stored", logged["request_id"]),
    ]
    [stored] = moe.control.events()
    assert stored["action"] == "Order Placed"
    assert stored["attributes"] == {"n": 1}
    assert stored["current_time"] == "2026-01-02T03:04:05Z"
    assert moe.control.profiles() == {"ann@example.com": {"first_name": "Ann"}}


def test_no_dedup_duplicates_are_stored_twice(moe):
    payload = transition(event("ann@example.com", action(current_time=1_700_000_000)))
    assert post(moe, payload).status_code == 200
    assert post(moe, payload).status_code == 200

    events = moe.control.events(status="stored")
    assert len(events) == 2
    assert events[0]["request_id"] != events[1]["request_id"]
    assert [e["request_seq"] for e in events] == [1, 2]
    assert moe.control.counts()["events_stored"] == 2


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": ""}, "Authentication Header Required"),
        ({"MOE-APPKEY": ""}, "Authentication Header Required"),
        (
            {"MOE-APPKEY": "OTHER"},
            "App Secret key mismatch. Please login to the dashboard to verify key",
        ),
        (
            {"Authorization": "Basic " + base64.b64encode(b"STANDINWORKSPACE:wrong").decode()},
            "App Secret key mismatch. Please login to the dashboard to verify key",
        ),
        (
            {"Authorization": "Bearer abc"},
            "App Secret key mismatch. Please login to the dashboard to verify key",
        ),
    ],
    ids=["no-authorization", "no-appkey", "wrong-appkey", "wrong-key", "not-basic"],
)
def test_bad_auth_is_401_and_stores_nothing(moe, headers, message):
    response = post(moe, transition(customer("a")), headers=headers)

    assert response.status_code == 401
    assert response.json()["status"] == "fail"
    assert response.json()["error"]["message"] == message
    assert response.json()["error"]["type"] == "Authentication required"
    assert moe.control.elements() == []
    assert [r["outcome"] for r in moe.control.requests()] == ["unauthorized"]


def test_wrong_workspace_in_path_is_401(moe):
    url = f"{moe.base_url}/v1/transition/OTHERWORKSPACE"
    body = json.dumps(transition(customer("a"))).encode()
    headers = {"Content-Type": "application/json", **moe.auth_headers()}
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 401
    assert moe.control.elements() == []


def test_body_limit_is_100_kb_and_over_is_413(moe):
    assert post(moe, sized(100_000)).status_code == 200
    response = post(moe, sized(100_001))

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"
    assert moe.control.counts()["customers_stored"] == 1
    assert [r["outcome"] for r in moe.control.requests()] == ["accepted", "payload_too_large"]


def test_json_content_type_is_required(moe):
    response = post(moe, transition(customer("a")), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert moe.control.elements() == []


@pytest.mark.parametrize(
    ("payload", "kind", "attribute"),
    [
        (b"{not json", "Malformed JSON", None),
        ({"type": "bulk", "elements": [customer("a")]}, "AttributeError", "type"),
        ({"type": "transition", "elements": []}, "MissingAttributeError", "elements"),
        (transition({"type": "user", "customer_id": "a"}), "AttributeError", "type"),
        (
            transition({"type": "customer", "attributes": {}}),
            "MissingAttributeError",
            "customer_id",
        ),
        (transition(event("a", {"action": ""})), "MissingAttributeError", "action"),
        (transition({"type": "event", "customer_id": "a"}), "MissingAttributeError", "actions"),
    ],
    ids=[
        "malformed",
        "wrong-type",
        "empty",
        "bad-element-type",
        "no-customer-id",
        "empty-action",
        "no-actions",
    ],
)
def test_structurally_broken_bodies_are_400_and_store_nothing(moe, payload, kind, attribute):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = post(moe, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == kind
    assert error.get("attribute") == attribute
    assert moe.control.elements() == []


def test_user_identifiers_stand_in_for_customer_id(moe):
    payload = transition(
        {"type": "event", "user_identifiers": {"moe_mobile": "+4470"}, "actions": [action()]}
    )
    assert post(moe, payload).status_code == 200
    [stored] = moe.control.events(status="stored")
    assert stored["user_identifiers"] == {"moe_mobile": "+4470"}


@pytest.mark.parametrize(
    "forbidden", [*sorted(FORBIDDEN_CUSTOMER_IDS), "GUEST", " Unknown "], ids=repr
)
def test_forbidden_customer_ids_are_accepted_then_dropped(moe, forbidden):
    response = post(
        moe, transition(customer(forbidden, first_name="X"), event(forbidden, action(), action()))
    )

    assert response.status_code == 200
    assert response.json() == ACCEPTED
    counts = moe.control.counts()
    assert (counts["customers_stored"], counts["customers_dropped"]) == (0, 1)
    assert (counts["events_stored"], counts["events_dropped"]) == (0, 2)
    dropped = moe.control.dropped()
    assert len(dropped) == 3
    assert {d["reason"] for d in dropped} == {f"forbidden customer_id {forbidden!r}"}
    assert moe.control.profiles() == {}


@pytest.mark.parametrize("value", [0, 1, True, False, None], ids=repr)
def test_typed_forbidden_ids_are_dropped_too(moe, value):
    assert post(moe, transition(customer(value))).status_code == 200
    assert moe.control.counts()["customers_dropped"] == 1


def test_future_dated_events_are_dropped_silently(moe):
    now = moe.control.now()
    actions = [
        action("past", current_time=int(now) - 86_400),
        action("past-iso", current_time="2024-05-31T16:33:35Z"),
        action("no-time"),
        action("future", current_time=int(now) + 3_600),
        action("milliseconds", current_time=int(now * 1000)),
        action("future-iso", current_time="2999-01-01T00:00:00+00:00"),
        action("garbage", current_time="yesterday"),
    ]
    response = post(moe, transition(event("ann", *actions)))

    assert response.status_code == 200
    stored = [e["action"] for e in moe.control.events(status="stored")]
    assert stored == ["past", "past-iso", "no-time"]
    dropped = {e["action"]: e["reason"] for e in moe.control.events(status="dropped")}
    assert sorted(dropped) == ["future", "future-iso", "garbage", "milliseconds"]
    assert dropped["future"].startswith("future-dated event")
    assert dropped["garbage"].startswith("unreadable current_time")


def test_documented_default_limits(moe):
    assert moe.control.configure() == {
        "max_request_bytes": 100_000,
        "users_per_minute": 10_000,
        "events_per_minute": 30_000,
        "future_tolerance_seconds": 0.0,
        "retry_after_seconds": None,
        "require_appkey_header": True,
        "rate_window_seconds": 60.0,
        # Merge User API: "1000 user updates per minute", at least 2 hours after the id.
        "merges_per_minute": 1_000,
        "merge_min_age_seconds": 7_200.0,
        # Delete User API: one user per request, 5,000 requests a minute.
        "deletes_per_minute": 5_000,
    }


def _merge(moe, pairs, *, auth=True, app_id=None):
    headers = moe.auth_headers() if auth else {}
    return requests.post(
        f"{moe.base_url}/v1/customer/merge",
        params={"app_id": app_id or moe.workspace_id},
        json={"merge_data": [{"merged_user": a, "retained_user": b} for a, b in pairs]},
        headers=headers,
        timeout=10,
    )


def test_merge_user_api_auth_body_rate_and_what_it_records(moe):
    post(moe, transition(customer("old"), customer("new")))
    assert _merge(moe, [("old", "new")], auth=False).status_code == 401
    assert _merge(moe, [("old", "new")], app_id="OTHER").status_code == 401
    bad = requests.post(
        f"{moe.base_url}/v1/customer/merge",
        params={"app_id": moe.workspace_id},
        json={"merge_data": [{"merged_user": "old"}]},
        headers=moe.auth_headers(),
        timeout=10,
    )
    assert bad.status_code == 400
    assert moe.control.merges() == []  # nothing refused is recorded

    answer = _merge(moe, [("old", "new"), ("ghost", "new")])
    assert (answer.status_code, answer.json()) == (
        200,
        {"status": "success", "operation": "created"},
    )
    merges = moe.control.merges()
    assert [(m["merged_user"], m["outcome"], m["too_early"]) for m in merges] == [
        ("old", "merged", True),  # sent seconds after the retained id first arrived
        ("ghost", "unknown_user", True),
    ]
    moe.control.advance_time(7_200)
    assert _merge(moe, [("old", "new")]).status_code == 200
    assert moe.control.merges()[-1]["too_early"] is False

    moe.control.advance_time(61)  # out of the minute that holds the merges above
    moe.control.configure(merges_per_minute=3)
    assert _merge(moe, [("a", "b")] * 3).status_code == 200
    assert _merge(moe, [("a", "b")]).status_code == 429
    moe.control.advance_time(61)
    assert _merge(moe, [("a", "b")]).status_code == 200


def test_ten_thousand_users_per_minute_then_429(moe):
    for batch in range(5):
        users = [{"type": "customer", "customer_id": f"u{batch}-{i}"} for i in range(2_000)]
        assert post(moe, transition(*users)).status_code == 200
    response = post(moe, transition(customer("one-too-many")))

    assert response.status_code == 429
    assert response.json()["error"]["type"] == "Rate Limits Exceeded"
    assert "Retry-After" not in response.headers
    assert moe.control.counts()["customers_stored"] == 10_000
    moe.control.advance_time(60)
    assert post(moe, transition(customer("next-minute"))).status_code == 200
    assert moe.control.counts()["customers_stored"] == 10_001


def test_thirty_thousand_events_per_minute_then_429(moe):
    for batch in range(6):
        actions = [{"action": "a"} for _ in range(5_000)]
        assert post(moe, transition(event(f"c{batch}", *actions))).status_code == 200
    response = post(moe, transition(event("c", {"action": "a"})))

    assert response.status_code == 429
    assert response.json()["error"]["message"].startswith("Rate limits for events exceeded")
    assert moe.control.counts()["events_stored"] == 30_000
    assert moe.control.requests(outcome="rate_limited")[0]["status"] == 429


def test_retry_after_can_be_switched_on(moe):
    moe.control.configure(users_per_minute=1, retry_after_seconds=7)
    assert post(moe, transition(customer("a"))).status_code == 200
    response = post(moe, transition(customer("b")))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_rate_window_slides(moe):
    moe.control.configure(users_per_minute=2)
    assert post(moe, transition(customer("a"))).status_code == 200
    moe.control.advance_time(30)
    assert post(moe, transition(customer("b"))).status_code == 200
    assert post(moe, transition(customer("c"))).status_code == 429
    moe.control.advance_time(30.5)  # the first request has left the window, the second not
    assert post(moe, transition(customer("d"))).status_code == 200
    assert post(moe, transition(customer("e"))).status_code == 429


def test_shortened_rate_window_frees_the_allowance_sooner(moe):
    moe.control.configure(users_per_minute=2, rate_window_seconds=6)
    assert post(moe, transition(customer("a"), customer("b"))).status_code == 200
    assert post(moe, transition(customer("c"))).status_code == 429
    moe.control.advance_time(5.5)  # still inside the 6 s window
    assert post(moe, transition(customer("c"))).status_code == 429
    moe.control.advance_time(0.6)
    assert post(moe, transition(customer("c"))).status_code == 200


def test_profiles_merge_in_arrival_order(moe):
    post(moe, transition(customer("a", first_name="Ann", city="Leeds")))
    post(moe, transition(customer("a", city="York"), customer("b", first_name="Bo")))
    assert moe.control.profiles() == {
        "a": {"first_name": "Ann", "city": "York"},
        "b": {"first_name": "Bo"},
    }


def test_slow_answer_after_storing(moe):
    moe.control.slow_next(1, 0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(moe, transition(customer("a")), timeout=0.2)
    assert moe.control.counts()["customers_stored"] == 1
    started = time.monotonic()
    assert post(moe, transition(customer("b"))).status_code == 200
    assert time.monotonic() - started < 0.5


def test_device_elements_are_stored_and_counted(moe):
    device = {
        "type": "device",
        "customer_id": "a",
        "device_id": "d1",
        "attributes": {"platform": "web"},
    }
    assert post(moe, transition(device, customer("a"))).status_code == 200
    counts = moe.control.counts()
    assert (counts["devices_stored"], counts["customers_stored"], counts["event_elements"]) == (
        1,
        1,
        0,
    )
    over_http = requests.get(f"{moe.base_url}/_standin/elements?type=device", timeout=10).json()
    assert [e["element"] for e in over_http["result"]] == [device]


def test_delete_user_api_auth_body_and_what_it_records(moe):
    post(moe, transition(customer("gone")))
    url = f"{moe.base_url}/v1/customer/delete"
    body = {"identity_type": "customer_id", "identity_value": "gone"}
    params = {"app_id": moe.workspace_id}
    assert requests.post(url, params=params, json=body, timeout=10).status_code == 401
    bad = {"identity_type": "email", "identity_value": "gone"}
    answer = requests.post(url, params=params, json=bad, headers=moe.auth_headers(), timeout=10)
    assert answer.status_code == 400
    assert moe.control.deletions() == []
    answer = requests.post(url, params=params, json=body, headers=moe.auth_headers(), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == "success"
    unknown = {"identity_type": "customer_id", "identity_value": "never-seen"}
    requests.post(url, params=params, json=unknown, headers=moe.auth_headers(), timeout=10)
    assert [(d["identity_value"], d["outcome"]) for d in moe.control.deletions()] == [
        ("gone", "deleted"),
        ("never-seen", "unknown_user"),
    ]
    moe.control.advance_time(61)
    moe.control.configure(deletes_per_minute=1)
    requests.post(url, params=params, json=body, headers=moe.auth_headers(), timeout=10)
    again = requests.post(url, params=params, json=body, headers=moe.auth_headers(), timeout=10)
    assert again.status_code == 429
