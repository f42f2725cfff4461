"""Unit tests of the protocol layer with a fake clock: limiter, client errors, ids, JSONL."""

from __future__ import annotations

import pytest
import requests
from tap_fakes import FakeClock, FakeResponse, ScriptedSession, ok, throttled
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import (
    BulkOperationError,
    GraphQLQueryError,
    ProtectedCustomerDataError,
    ShopifyAuthError,
    ShopifyRetriableError,
)
from tap_shopify_history.shopify.ids import gid_to_id, gid_type, id_to_gid
from tap_shopify_history.shopify.jsonl import LineCounter, reassemble
from tap_shopify_history.shopify.limiter import CostLimiter, ThrottleStatus

TOKEN = "shpat_supersecret_token_value"


def make_client(
    answers, clock: FakeClock, max_retries: int = 3
) -> tuple[GraphQLClient, ScriptedSession]:
    session = ScriptedSession(answers)
    client = GraphQLClient(
        "http://shop.test/admin/api/2025-01/graphql.json",
        TOKEN,
        session=session,  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
        max_retries=max_retries,
    )
    return client, session


def test_gid_round_trip() -> None:
    assert gid_to_id("gid://shopify/Order/1001") == 1001
    assert id_to_gid("Customer", 42) == "gid://shopify/Customer/42"
    assert gid_type("gid://shopify/LineItem/7") == "LineItem"
    assert gid_to_id(None) is None
    with pytest.raises(ValueError, match="not a Shopify gid"):
        gid_to_id("Order/1")


def test_limiter_waits_exactly_until_the_bucket_can_pay() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.acquire(500)  # unknown bucket: no wait
    assert clock.sleeps == []
    limiter.observe(ThrottleStatus(1000, 100, 50), actual_cost=400)
    limiter.release()
    limiter.acquire(300)  # needs 200 more points at 50/s
    assert clock.sleeps == [pytest.approx(4.0)]
    clock.now += 100  # refilled (capped at maximum)
    assert limiter.available() == 1000
    limiter.acquire(1000)
    assert len(clock.sleeps) == 1


def test_limiter_reserves_points_so_back_to_back_requests_queue() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(ThrottleStatus(1000, 600, 50), actual_cost=None)
    limiter.acquire(500)  # paid from the 600 available
    assert clock.sleeps == []
    limiter.release()  # answered, but no new status: the projection stands
    limiter.acquire(500)  # only 100 left after the reservation: wait for 400 more
    assert clock.sleeps == [pytest.approx(8.0)]
    assert limiter.requests == 2


def test_limiter_waiter_wakes_when_an_answer_refunds_points() -> None:
    # Shopify charges the actual cost and gives back the rest of the requested cost: a
    # request waiting behind one in flight goes as soon as that answer shows the points.
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(ThrottleStatus(1000, 600, 50), actual_cost=None)
    limiter.acquire(500)  # in flight, 100 left as projected

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        limiter.observe(ThrottleStatus(1000, 540, 50), actual_cost=60)  # it cost 60, not 500
        limiter.release()

    limiter._sleep = sleep
    limiter.acquire(500)
    assert clock.sleeps == [pytest.approx(0.25)]  # not the projected 8 s
    assert limiter.waited_seconds == pytest.approx(0.25)


def test_limiter_sizes_pages_to_query_cap_and_bucket() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.page_size(cost_per_node=2) == 250
    assert limiter.page_size(cost_per_node=52) == 19  # (1000 - 2) // 52
    limiter.observe(ThrottleStatus(100, 100, 5), actual_cost=None)
    assert limiter.page_size(cost_per_node=10) == 9  # a small bucket caps the page


def test_throttled_is_waited_out_then_succeeds() -> None:
    clock = FakeClock()
    client, session = make_client([throttled(available=10, requested=210), ok({"x": 1})], clock)
    data = client.execute("{ x }", estimated_cost=5)
    assert data["x"] == 1
    assert client.limiter.throttled_count == 1
    assert clock.sleeps[0] == pytest.approx(4.0)  # (210 - 10) / 50
    assert len(session.payloads) == 2


def test_server_errors_and_connection_errors_are_retried_then_fail() -> None:
    clock = FakeClock()
    answers = [
        FakeResponse(502, {}),
        requests.ConnectionError("reset"),
        FakeResponse(
            200, {"errors": [{"message": "boom", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
        ),
        ok({"x": 2}),
    ]
    client, _ = make_client(answers, clock)
    assert client.execute("{ x }")["x"] == 2
    assert client.stats.retries == 3
    client, _ = make_client([FakeResponse(503, {})] * 3, clock, max_retries=2)
    with pytest.raises(ShopifyRetriableError, match="gave up after 2 retries"):
        client.execute("{ x }")


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_fatal_and_never_show_the_token(status: int) -> None:
    clock = FakeClock()
    body = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    client, session = make_client([FakeResponse(status, body)], clock)
    with pytest.raises(ShopifyAuthError) as caught:
        client.execute("{ x }")
    assert TOKEN not in str(caught.value)
    assert "access_token" in str(caught.value)
    assert len(session.payloads) == 1  # not retried


def test_protected_customer_data_denials_become_one_error() -> None:
    clock = FakeClock()
    errors = [
        {
            "message": "This app is not approved to use the email field.",
            "path": ["customers", "nodes", i, "email"],
        }
        for i in range(50)
    ] + [
        {
            "message": "This app is not approved to use the firstName field.",
            "path": ["customers", "nodes", 0, "firstName"],
        }
    ]
    client, _ = make_client(
        [FakeResponse(200, {"data": {"customers": None}, "errors": errors})], clock
    )
    with pytest.raises(ProtectedCustomerDataError) as caught:
        client.execute("{ x }")
    assert caught.value.fields == ["email", "firstName"]
    assert "level 2" in str(caught.value)


def test_other_graphql_errors_are_fatal_query_errors() -> None:
    clock = FakeClock()
    body = {
        "errors": [
            {
                "message": "Query cost is 2003, which exceeds the single query max cost"
                " limit (1000).",
                "extensions": {"code": "MAX_COST_EXCEEDED"},
            }
        ]
    }
    client, _ = make_client([FakeResponse(200, body)], clock)
    with pytest.raises(GraphQLQueryError, match="exceeds the single query max cost"):
        client.execute("{ x }")


def test_reassemble_attaches_children_streaming() -> None:
    lines = [
        b'{"id":"gid://shopify/Order/1","updatedAt":"2024-01-01T00:00:00Z","refunds":[{"id":"gid://shopify/Refund/9"}]}',
        b'{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
        b'{"id":"gid://shopify/LineItem/12","__parentId":"gid://shopify/Order/1"}',
        b'{"id":"gid://shopify/RefundLineItem/5","__parentId":"gid://shopify/Refund/9"}',
        b'{"id":"gid://shopify/Order/2","updatedAt":"2024-01-01T00:00:01Z"}',
    ]
    counter = LineCounter()
    seen = []

    def feed():
        for line in lines:
            seen.append(line)
            yield line

    roots = reassemble(
        feed(), {"LineItem": "lineItems", "RefundLineItem": "refundLineItems"}, counter
    )
    first = next(roots)
    assert len(seen) == 5  # yielded as soon as the next root arrived, not at the end
    assert [item["id"] for item in first["lineItems"]] == [
        "gid://shopify/LineItem/11",
        "gid://shopify/LineItem/12",
    ]
    assert first["refunds"][0]["refundLineItems"][0]["id"] == "gid://shopify/RefundLineItem/5"
    assert next(roots)["id"] == "gid://shopify/Order/2"
    assert list(roots) == []
    assert (counter.lines, counter.roots) == (5, 2)


def test_reassemble_rejects_ungrouped_output() -> None:
    lines = [
        '{"id":"gid://shopify/Order/1"}',
        '{"id":"gid://shopify/Order/2"}',
        '{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
    ]
    with pytest.raises(BulkOperationError, match="not grouped"):
        list(reassemble(lines, {"LineItem": "lineItems"}))
