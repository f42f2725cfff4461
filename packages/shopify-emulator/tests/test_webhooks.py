"""Webhooks over real HTTP: subscriptions, signed deliveries, retries, faults, compliance."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from shopify_emulator.builder import StoreBuilder
from shopify_emulator.emulator import EmulatorServer
from shopify_emulator.webhooks import WebhookSettings, retry_delays
from shopify_webhooks.queue import create_queue_engine
from shopify_webhooks.queue import queue_table as table
from shopify_webhooks.server import WebhookServer
from shopify_webhooks.settings import ReceiverSettings

SECRET = "shpss_emulator_test_secret"
# 4 hours of retries in about 0.4 s.
FAST = 1 / 36000


class Sink:
    """A tiny HTTP endpoint recording every POST; answers from ``statuses`` then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.always: int | None = None
        self.delays: list[float] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                sink.received.append({"headers": headers, "body": body})
                if sink.delays:
                    time.sleep(sink.delays.pop(0))
                status = sink.statuses.pop(0) if sink.statuses else (sink.always or 200)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        return [r["headers"]["x-shopify-topic"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    found = Sink()
    yield found
    found.close()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    store = StoreBuilder().customer(email="first@example.com").build()
    settings = WebhookSettings(client_secret=SECRET, time_scale=FAST, timeout_seconds=1.0)
    with EmulatorServer(store, webhooks=settings) as server:
        yield server


def first(server: EmulatorServer) -> int:
    """The id of the store's one built customer."""
    return min(server.store.customers)


def control(server: EmulatorServer, method: str, **kwargs: Any) -> Any:
    answer = requests.post(f"{server.base_url}/_emulator/{method}", json=kwargs, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def graphql(server: EmulatorServer, query: str, **variables: Any) -> dict[str, Any]:
    answer = requests.post(
        server.graphql_url("2025-01"),
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": server.token},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


CREATE = """
mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic,
      webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id topic format endpoint { __typename
      ... on WebhookHttpEndpoint { callbackUrl } } }
    userErrors { field message }
  }
}"""
LIST = """
query($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    edges { cursor node { id topic } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DELETE = """
mutation($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""


def test_subscriptions_are_created_listed_deleted_and_refused_with_shopifys_errors(emulator):
    made = graphql(emulator, CREATE, topic="CUSTOMERS_CREATE", url="https://a.example/h")
    created = made["data"]["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    sub = created["webhookSubscription"]
    assert sub["topic"] == "CUSTOMERS_CREATE"
    assert sub["endpoint"] == {
        "__typename": "WebhookHttpEndpoint",
        "callbackUrl": "https://a.example/h",
    }
    graphql(emulator, CREATE, topic="ORDERS_CREATE", url="https://a.example/h")

    again = graphql(emulator, CREATE, topic="CUSTOMERS_CREATE", url="https://a.example/h")
    assert again["data"]["webhookSubscriptionCreate"] == {
        "webhookSubscription": None,
        "userErrors": [
            {
                "field": ["webhookSubscription", "callbackUrl"],
                "message": "Address for this topic has already been taken",
            }
        ],
    }
    bad = graphql(emulator, CREATE, topic="CUSTOMERS_CREATE", url="ftp://a.example/h")
    errors = bad["data"]["webhookSubscriptionCreate"]["userErrors"]
    assert [e["field"] for e in errors] == [["webhookSubscription", "callbackUrl"]]

    page = graphql(emulator, LIST, first=1)["data"]["webhookSubscriptions"]
    assert [e["node"]["topic"] for e in page["edges"]] == ["CUSTOMERS_CREATE"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = graphql(emulator, LIST, first=5, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["topic"] for e in rest["data"]["webhookSubscriptions"]["edges"]] == [
        "ORDERS_CREATE"
    ]
    only = graphql(emulator, LIST, first=5, topics=["ORDERS_CREATE"])
    assert len(only["data"]["webhookSubscriptions"]["edges"]) == 1

    gone = graphql(emulator, DELETE, id=sub["id"])["data"]["webhookSubscriptionDelete"]
    assert gone == {"deletedWebhookSubscriptionId": sub["id"], "userErrors": []}
    missing = graphql(emulator, DELETE, id=sub["id"])["data"]["webhookSubscriptionDelete"]
    assert missing["deletedWebhookSubscriptionId"] is None
    assert len(missing["userErrors"]) == 1


def test_a_store_change_is_delivered_signed_with_every_header(emulator, sink):
    control(emulator, "subscribe_webhook", topic="customers/create", callback_url=sink.url)
    control(emulator, "subscribe_webhook", topic="orders/create", callback_url=sink.url)
    control(emulator, "subscribe_webhook", topic="orders/updated", callback_url=sink.url)
    cid = control(emulator, "create_customer", email="new@example.com")
    oid = control(emulator, "create_order", customer_id=cid)
    assert control(emulator, "wait_webhooks_idle") is True

    assert sink.topics() == ["customers/create", "orders/create", "orders/updated"]
    for got in sink.received:
        headers, body = got["headers"], got["body"]
        expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        assert headers["x-shopify-hmac-sha256"] == expected.decode()
        assert headers["x-shopify-shop-domain"] == emulator.shop_domain
        assert headers["x-shopify-api-version"] == "2025-01"
        assert headers["x-shopify-triggered-at"].endswith("Z")
    customer = json.loads(sink.received[0]["body"])
    assert customer["id"] == cid
    assert customer["admin_graphql_api_id"] == f"gid://shopify/Customer/{cid}"
    assert customer["email"] == "new@example.com"
    order_ids = {json.loads(r["body"])["id"] for r in sink.received[1:]}
    assert order_ids == {oid}
    webhook_ids = [r["headers"]["x-shopify-webhook-id"] for r in sink.received]
    event_ids = [r["headers"]["x-shopify-event-id"] for r in sink.received]
    assert len(set(webhook_ids)) == 3
    # One change (the order) is one event across its two topics.
    assert event_ids[1] == event_ids[2] != event_ids[0]


def test_refunds_create_carries_the_order_id(emulator, sink):
    control(emulator, "subscribe_webhook", topic="REFUNDS_CREATE", callback_url=sink.url)
    cid = control(emulator, "create_customer", email="r@example.com")
    oid = control(emulator, "create_order", customer_id=cid)
    rid = control(emulator, "refund_order", id=oid, amount="1.00")
    control(emulator, "wait_webhooks_idle")
    [refund] = [json.loads(r["body"]) for r in sink.received]
    assert (refund["id"], refund["order_id"], refund["amount"]) == (rid, oid, "1.00")


def test_a_failed_delivery_is_retried_with_the_same_webhook_id_until_it_succeeds(emulator, sink):
    sink.statuses = [500, 503]
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "update_customer", id=first(emulator), note="changed")
    control(emulator, "wait_webhooks_idle")
    assert len(sink.received) == 3
    assert len({r["headers"]["x-shopify-webhook-id"] for r in sink.received}) == 1
    [entry] = control(emulator, "webhook_deliveries")
    assert (entry["attempts"], entry["last_status"], entry["state"]) == (3, 200, "delivered")


def test_the_subscription_is_removed_after_the_eighth_retry_fails(emulator, sink):
    sink.always = 500
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "update_customer", id=first(emulator), note="changed")
    control(emulator, "wait_webhooks_idle")
    assert len(sink.received) == 1 + 8
    [entry] = control(emulator, "webhook_deliveries")
    assert (entry["attempts"], entry["last_status"], entry["state"]) == (9, 500, "failed")
    assert control(emulator, "webhook_subscriptions") == []
    control(emulator, "update_customer", id=first(emulator), note="again")
    control(emulator, "wait_webhooks_idle")
    assert len(sink.received) == 9


def test_an_answer_later_than_the_timeout_is_a_failure_and_retried(emulator, sink):
    control(emulator, "configure_webhooks", timeout_seconds=0.2)
    sink.delays = [0.6]
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "update_customer", id=first(emulator), note="slow")
    control(emulator, "wait_webhooks_idle")
    assert len(sink.received) == 2
    [entry] = control(emulator, "webhook_deliveries")
    assert (entry["attempts"], entry["last_status"], entry["state"]) == (2, 200, "delivered")


def test_the_client_secret_is_not_in_the_settings_repr():
    assert SECRET not in repr(WebhookSettings(client_secret=SECRET))


def test_no_answer_counts_as_a_failure(emulator):
    control(emulator, "configure_webhooks", time_scale=1 / 360000)
    # A port nobody listens on: refused, never answered.
    control(
        emulator,
        "subscribe_webhook",
        topic="customers/update",
        callback_url="http://127.0.0.1:9/nothing",
    )
    control(emulator, "update_customer", id=first(emulator), note="changed")
    control(emulator, "wait_webhooks_idle")
    [entry] = control(emulator, "webhook_deliveries")
    assert (entry["attempts"], entry["last_status"], entry["state"]) == (9, None, "failed")


def test_the_retry_schedule_doubles_and_spans_four_hours():
    delays = retry_delays()
    assert len(delays) == 8
    assert sum(delays) == pytest.approx(4 * 3600)
    assert all(b == pytest.approx(2 * a) for a, b in itertools.pairwise(delays))
    assert delays[0] == pytest.approx(14400 / 255)


def test_duplicates_resend_the_same_webhook_id(emulator, sink):
    control(emulator, "set_webhook_faults", duplicate_rate=1.0, seed=3)
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "update_customer", id=first(emulator), note="changed")
    control(emulator, "wait_webhooks_idle")
    assert len(sink.received) == 2
    assert sink.received[0]["body"] == sink.received[1]["body"]
    assert len({r["headers"]["x-shopify-webhook-id"] for r in sink.received}) == 1


def test_out_of_order_delivers_a_later_change_first(emulator, sink):
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "set_webhook_faults", reorder_rate=1.0, seed=1)
    control(emulator, "update_customer", id=first(emulator), note="first")
    control(emulator, "clear_webhook_faults")
    control(emulator, "update_customer", id=first(emulator), note="second")
    control(emulator, "wait_webhooks_idle")
    notes = [json.loads(r["body"])["note"] for r in sink.received]
    assert notes == ["second", "first"]


def test_a_dropped_delivery_is_never_sent(emulator, sink):
    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    control(emulator, "set_webhook_faults", drop_rate=1.0)
    control(emulator, "update_customer", id=first(emulator), note="lost")
    control(emulator, "clear_webhook_faults")
    control(emulator, "update_customer", id=first(emulator), note="kept")
    control(emulator, "wait_webhooks_idle")
    assert [json.loads(r["body"])["note"] for r in sink.received] == ["kept"]
    states = [e["state"] for e in control(emulator, "webhook_deliveries")]
    assert states == ["dropped", "delivered"]


def test_seeded_faults_repeat_exactly(emulator, sink):
    def run(seed: int) -> list[str]:
        emulator.emulator.webhooks.log.clear()
        control(emulator, "set_webhook_faults", drop_rate=0.5, duplicate_rate=0.3, seed=seed)
        for n in range(12):
            control(emulator, "update_customer", id=first(emulator), note=str(n))
        control(emulator, "wait_webhooks_idle")
        return [
            f"{e['state']}/{e['duplicate_sends']}" for e in control(emulator, "webhook_deliveries")
        ]

    control(emulator, "subscribe_webhook", topic="customers/update", callback_url=sink.url)
    states = run(7)
    assert {"dropped/0", "delivered/0", "delivered/1"} <= set(states)
    assert run(7) == states
    assert run(8) != states


@pytest.mark.parametrize(
    ("topic", "keys"),
    [
        ("customers/redact", {"shop_id", "shop_domain", "customer", "orders_to_redact"}),
        (
            "customers/data_request",
            {"shop_id", "shop_domain", "customer", "orders_requested", "data_request"},
        ),
        ("shop/redact", {"shop_id", "shop_domain"}),
    ],
    ids=["redact", "data_request", "shop_redact"],
)
def test_compliance_topics_go_to_the_compliance_url_in_shopifys_shape(emulator, sink, topic, keys):
    control(emulator, "configure_webhooks", compliance_url=sink.url)
    cid = control(emulator, "create_customer", email="c@example.com", phone="+15556251199")
    oid = control(emulator, "create_order", customer_id=cid)
    control(emulator, "send_compliance_webhook", topic=topic, customer_id=cid)
    control(emulator, "wait_webhooks_idle")
    [got] = sink.received
    assert got["headers"]["x-shopify-topic"] == topic
    payload = json.loads(got["body"])
    assert set(payload) == keys
    assert payload["shop_domain"] == emulator.shop_domain
    if "customer" in keys:
        assert payload["customer"] == {"id": cid, "email": "c@example.com", "phone": "+15556251199"}
        orders = payload.get("orders_to_redact", payload.get("orders_requested"))
        assert orders == [oid]
    if "data_request" in keys:
        assert isinstance(payload["data_request"]["id"], int)


def test_compliance_without_a_url_is_refused(emulator):
    answer = requests.post(
        f"{emulator.base_url}/_emulator/send_compliance_webhook",
        json={"topic": "shop/redact"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "compliance_url" in answer.json()["error"]


def test_the_real_receiver_verifies_and_queues_every_delivery(emulator, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with WebhookServer(ReceiverSettings(database_url=url, secrets=(SECRET,))) as receiver:
        for topic in ("customers/create", "customers/update", "orders/create", "refunds/create"):
            control(emulator, "subscribe_webhook", topic=topic, callback_url=receiver.webhook_url)
        control(emulator, "configure_webhooks", compliance_url=receiver.webhook_url)
        cid = control(emulator, "create_customer", email="q@example.com")
        control(emulator, "update_customer", id=cid, note="n")
        oid = control(emulator, "create_order", customer_id=cid)
        control(emulator, "refund_order", id=oid, amount="1.00")
        control(emulator, "send_compliance_webhook", topic="customers/redact", customer_id=cid)
        assert control(emulator, "wait_webhooks_idle") is True
    states = {e["state"] for e in control(emulator, "webhook_deliveries")}
    assert states == {"delivered"}
    engine = create_queue_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.topic, table.c.state, table.c.resource_id).order_by(table.c.position)
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("customers/create", "received", cid),
        ("customers/update", "received", cid),
        ("orders/create", "received", oid),
        ("refunds/create", "received", oid),
        ("customers/redact", "received", cid),
    ]


def test_the_command_line_signs_with_the_secret_from_the_environment_and_never_prints_it(
    tmp_path, sink
):
    secret = "shpss_from_the_environment"
    ready = tmp_path / "ready.json"
    binary = Path(sys.executable).parent / "shopify-emulator"
    proc = subprocess.Popen(
        [binary, "serve", "--customers", "2", "--orders", "0", "--ready-file", str(ready),
         "--webhook-time-scale", "0.001", "--compliance-url", sink.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SHOPIFY_EMULATOR_WEBHOOK_SECRET": secret},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        base = json.loads(ready.read_text())["base_url"]
        call = f"{base}/_emulator/"
        requests.post(call + "send_compliance_webhook", json={"topic": "shop/redact"}, timeout=10)
        assert requests.post(call + "wait_webhooks_idle", json={}, timeout=40).json()["result"]
        log = requests.post(call + "webhook_deliveries", json={}, timeout=10).json()["result"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    [got] = sink.received
    expected = base64.b64encode(hmac.new(secret.encode(), got["body"], hashlib.sha256).digest())
    assert got["headers"]["x-shopify-hmac-sha256"] == expected.decode()
    assert secret not in out
    assert secret not in json.dumps(log)
