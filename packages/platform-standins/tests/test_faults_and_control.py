"""Faults and the control API, on both stand-ins, over real HTTP."""

from __future__ import annotations

import json
import time

import pytest
import requests


def moe_post(moe, customer_id="a", **kwargs):
    body = {"type": "transition", "elements": [{"type": "customer", "customer_id": customer_id}]}
    headers = {"Content-Type": "application/json", **moe.auth_headers()}
    return requests.post(
        moe.transition_url, data=json.dumps(body), headers=headers, timeout=10, **kwargs
    )


def om_post(om, record_id="c1", **kwargs):
    body = [{"@type": "contact", "id": record_id, "email": f"{record_id}@example.com"}]
    return requests.post(om.push_url, json=body, headers=om.auth_headers(), timeout=10, **kwargs)


@pytest.fixture(params=["moengage", "ometria"])
def platform(request, standin_factory):
    """(stand-in, send one record, how many records it holds) for each platform."""
    if request.param == "moengage":
        moe = standin_factory("moengage")
        return (
            moe,
            lambda **kw: moe_post(moe, **kw),
            lambda: moe.control.counts()["customers_stored"],
        )
    om = standin_factory("ometria", processing_delay_seconds=0)
    return om, lambda **kw: om_post(om, **kw), lambda: om.control.counts()["stored"]


def test_5xx_storm_covers_exactly_the_next_n_and_stores_nothing(platform):
    standin, send, held = platform
    standin.control.fail_next(3, status=503)

    statuses = [send().status_code for _ in range(4)]

    assert statuses == [503, 503, 503, 200]
    assert held() == 1
    outcomes = [r["outcome"] for r in standin.control.requests()]
    assert outcomes[:3] == ["fault_server_error"] * 3
    assert standin.control.faults()["error_next"] == 0


def test_dropped_connection_after_processing_stores_the_record(platform):
    standin, send, held = platform
    standin.control.drop_next(1)

    with pytest.raises(requests.exceptions.ConnectionError):
        send()

    assert held() == 1
    [logged] = standin.control.requests()
    assert logged["status"] == 200
    assert logged["dropped_connection"] is True
    assert send().status_code == 200
    assert held() == 2


def test_auth_failure_fault_with_good_credentials(platform):
    standin, send, held = platform
    standin.control.fail_auth_next(2)
    assert [send().status_code for _ in range(3)] == [401, 401, 200]
    assert held() == 1


def test_slow_answer_is_late_but_complete(platform):
    standin, send, held = platform
    standin.control.slow_next(1, 0.4)
    started = time.monotonic()
    assert send().status_code == 200
    assert time.monotonic() - started >= 0.4
    assert held() == 1


def test_faults_do_not_touch_the_control_api(platform):
    standin, _send, _held = platform
    standin.control.fail_next(5)
    response = requests.post(f"{standin.base_url}/_standin/faults", json={}, timeout=10)
    assert response.json()["result"]["error_next"] == 5


def test_http_control_api_matches_python(platform):
    standin, send, _held = platform
    send()
    over_http = requests.post(f"{standin.base_url}/_standin/requests", json={}, timeout=10)
    assert over_http.status_code == 200
    assert over_http.json()["result"] == standin.control.requests()

    response = requests.post(f"{standin.base_url}/_standin/fail_next", json={"n": 1}, timeout=10)
    assert response.json()["result"]["error_next"] == 1
    assert send().status_code == 500


def test_http_control_errors(platform):
    standin, _send, _held = platform
    unknown = requests.post(f"{standin.base_url}/_standin/nope", json={}, timeout=10)
    assert unknown.status_code == 404
    bad = requests.post(f"{standin.base_url}/_standin/set_faults", json={"bogus": 1}, timeout=10)
    assert bad.status_code == 400
    assert "bogus" in bad.json()["error"]
    not_5xx = requests.post(
        f"{standin.base_url}/_standin/fail_next", json={"n": 1, "status": 404}, timeout=10
    )
    assert not_5xx.status_code == 400


def test_reset_forgets_everything(platform):
    standin, send, held = platform
    send()
    standin.control.fail_next(2)
    standin.control.advance_time(120)
    requests.post(f"{standin.base_url}/_standin/reset", json={}, timeout=10)
    assert standin.control.requests() == []
    assert held() == 0
    assert standin.control.faults()["error_next"] == 0
    assert abs(standin.control.now() - time.time()) < 5


def test_api_key_never_in_the_request_log(platform):
    standin, send, _held = platform
    send()
    assert standin.api_key not in json.dumps(standin.control.requests())


def test_clock_never_goes_back(platform):
    standin, _send, _held = platform
    with pytest.raises(ValueError, match="never goes back"):
        standin.control.advance_time(-1)
