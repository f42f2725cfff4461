"""The receiver over real HTTP, on SQLite and PostgreSQL, read back from the queue table."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from shopify_webhooks.domain.samples import SHOP as SAMPLE_SHOP
from shopify_webhooks.domain.samples import TOPIC_SAMPLES
from shopify_webhooks.domain.signature import shopify_headers
from shopify_webhooks.queue import create_queue_engine
from shopify_webhooks.server import WebhookServer

Rows = Callable[[], list[dict[str, Any]]]
# For what is decided before the database is touched (signature, size, headers): SQLite
# alone, to keep the suite fast; storage behaviour runs on both databases.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
Sender = Any
SHOP = "hist-test.myshopify.com"  # the sender's default shop (conftest)


def test_a_signed_delivery_is_stored_with_its_headers(sender: Sender, read_queue: Rows) -> None:
    body = b'{"id": 820982911946154508, "email": "jon@example.com"}'
    answer = sender.post(
        "customers/update",
        None,
        body=body,
        webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        event_id="evt-1",
        headers={"X-Shopify-Triggered-At": "2026-03-01T10:00:00.123456789Z"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"position": 1, "duplicate": False, "state": "received"}
    [row] = read_queue()
    assert {k: row[k] for k in row if k not in ("received_at", "body")} == {
        "position": 1,
        "origin": "webhook",
        "state": "received",
        "ignored_reason": None,
        "shop_domain": SHOP,
        "topic": "customers/update",
        "webhook_id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "event_id": "evt-1",
        "triggered_at": "2026-03-01T10:00:00.123456789Z",
        "api_version": "2025-01",
        "resource_kind": "customer",
        "resource_id": 820982911946154508,
        "duplicate_count": 0,
        "last_duplicate_at": None,
    }
    assert bytes(row["body"]) == body  # the raw bytes Shopify signed, not a re-encoding


@sqlite_only
def test_header_case_and_shop_domain_case_do_not_matter(sender: Sender, read_queue: Rows) -> None:
    body = b'{"id": 5}'
    headers = {
        k.lower(): v
        for k, v in shopify_headers(
            body,
            sender.secret,
            topic="Orders/Create",
            shop_domain="HIST-Test.myshopify.com",
            webhook_id="w-1",
        ).items()
    }
    assert sender.session.post(sender.url, data=body, headers=headers).status_code == 200
    [row] = read_queue()
    assert (row["topic"], row["shop_domain"], row["resource_id"]) == ("orders/create", SHOP, 5)


@sqlite_only
@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-secret", "other-body"],
    ids=["missing", "empty", "garbage", "wrong-secret", "signature-of-another-body"],
)
def test_an_unsigned_delivery_is_refused_and_nothing_is_stored(
    sender: Sender, read_queue: Rows, signature: str | None
) -> None:
    body = b'{"id": 1}'
    headers = shopify_headers(
        body, sender.secret, topic="orders/create", shop_domain=SHOP, webhook_id="w-1"
    )
    if signature == "wrong-secret":
        headers["X-Shopify-Hmac-Sha256"] = shopify_headers(
            body, "not-the-secret", topic="t", shop_domain=SHOP, webhook_id="w"
        )["X-Shopify-Hmac-Sha256"]
    elif signature == "other-body":
        headers["X-Shopify-Hmac-Sha256"] = shopify_headers(
            b'{"id": 2}', sender.secret, topic="t", shop_domain=SHOP, webhook_id="w"
        )["X-Shopify-Hmac-Sha256"]
    elif signature is None:
        del headers["X-Shopify-Hmac-Sha256"]
    else:
        headers["X-Shopify-Hmac-Sha256"] = signature
    answer = sender.session.post(sender.url, data=body, headers=headers)
    assert answer.status_code == 401
    assert read_queue() == []


@sqlite_only
def test_the_previous_secret_is_accepted_while_rotating(
    sender_for: Callable[[str, str], Sender], client_secret: str, database_url: str
) -> None:
    from shopify_webhooks.settings import ReceiverSettings  # noqa: PLC0415

    settings = ReceiverSettings(database_url=database_url, secrets=("new-secret", client_secret))
    with WebhookServer(settings) as server:
        old = sender_for(server.webhook_url, client_secret).post("orders/create", {"id": 1})
        new = sender_for(server.webhook_url, "new-secret").post("orders/create", {"id": 2})
        other = sender_for(server.webhook_url, "neither").post("orders/create", {"id": 3})
    assert (old.status_code, new.status_code, other.status_code) == (200, 200, 401)


def test_a_redelivery_is_stored_once_and_counted(sender: Sender, read_queue: Rows) -> None:
    first = sender.post("orders/updated", {"id": 7}, webhook_id="w-7", event_id="e-7")
    again = sender.post("orders/updated", {"id": 7}, webhook_id="w-7", event_id="e-7")
    third = sender.post("orders/updated", {"id": 7}, webhook_id="w-7", event_id="e-7")
    assert [a.status_code for a in (first, again, third)] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in (first, again, third)] == [False, True, True]
    assert again.json()["position"] == first.json()["position"]
    [row] = read_queue()
    assert (row["webhook_id"], row["duplicate_count"]) == ("w-7", 2)
    assert row["last_duplicate_at"] is not None


def test_duplicates_by_event_id_are_per_topic(sender: Sender, read_queue: Rows) -> None:
    # Two subscriptions to one topic: new webhook id, same event id -> a duplicate. The same
    # merchant action on another topic shares the event id but is its own delivery.
    answers = [
        sender.post("orders/updated", {"id": 8}, webhook_id="w-a", event_id="e-8"),
        sender.post("orders/updated", {"id": 8}, webhook_id="w-b", event_id="e-8"),
        sender.post("orders/create", {"id": 8}, webhook_id="w-c", event_id="e-8"),
        sender.post("orders/create", {"id": 8}, webhook_id="w-c", event_id="e-9"),
    ]
    assert [a.json()["duplicate"] for a in answers] == [False, True, False, True]
    rows = read_queue()
    assert [(r["topic"], r["webhook_id"], r["duplicate_count"]) for r in rows] == [
        ("orders/updated", "w-a", 1),
        ("orders/create", "w-c", 1),
    ]


def test_the_same_webhook_id_from_another_shop_is_not_a_duplicate(
    sender: Sender, read_queue: Rows
) -> None:
    sender.post("orders/create", {"id": 1}, webhook_id="w-1")
    answer = sender.post("orders/create", {"id": 1}, webhook_id="w-1", shop="b.myshopify.com")
    assert answer.json()["duplicate"] is False
    assert [r["shop_domain"] for r in read_queue()] == [SHOP, "b.myshopify.com"]


def test_every_topic_over_http_names_its_resource(sender: Sender, read_queue: Rows) -> None:
    for sample in TOPIC_SAMPLES:  # the compliance samples name their shop in the body
        assert sender.post(sample.topic, sample.payload, shop=SAMPLE_SHOP).status_code == 200
    expected = [(s.topic, "received", s.kind.value, s.resource_id) for s in TOPIC_SAMPLES]
    rows = read_queue()
    assert [(r["topic"], r["state"], r["resource_kind"], r["resource_id"]) for r in rows] == (
        expected
    )
    assert [r["position"] for r in rows] == list(range(1, len(TOPIC_SAMPLES) + 1))


def test_an_unknown_topic_is_stored_as_ignored_with_the_reason(
    sender: Sender, read_queue: Rows
) -> None:
    answer = sender.post("products/update", {"id": 3})
    broken = sender.post("orders/create", None, body=b"{not json")
    assert (answer.status_code, answer.json()["state"]) == (200, "ignored")
    assert (broken.status_code, broken.json()["state"]) == (200, "ignored")
    rows = read_queue()
    assert [(r["topic"], r["state"], r["ignored_reason"]) for r in rows] == [
        ("products/update", "ignored", "unknown topic 'products/update'"),
        ("orders/create", "ignored", "body is not a JSON object"),
    ]


@sqlite_only
def test_an_oversized_body_is_refused_unread(
    receiver_factory: Callable[..., WebhookServer],
    sender_for: Callable[[str, str], Sender],
    client_secret: str,
    read_queue: Rows,
) -> None:
    server = receiver_factory(max_body_bytes=1000)
    sender = sender_for(server.webhook_url, client_secret)
    assert sender.post("orders/create", {"id": 1, "note": "x" * 2000}).status_code == 413
    assert sender.post("orders/create", {"id": 1, "note": "x" * 500}).status_code == 200
    big = json.dumps({"id": 2, "note": "x" * 2000}).encode()
    headers = shopify_headers(
        big, client_secret, topic="orders/create", shop_domain=SHOP, webhook_id="chunked"
    )
    # A chunked body declares no length: it is cut off once it passes the limit.
    chunked = requests.post(
        server.webhook_url, data=(big[i : i + 256] for i in range(0, len(big), 256)),
        headers=headers, timeout=10,
    )  # fmt: skip
    assert chunked.status_code == 413
    assert [r["resource_id"] for r in read_queue()] == [1]


def _hold_write_lock(database_url: str, locked: threading.Event, release: threading.Event) -> None:
    engine = create_queue_engine(database_url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql("LOCK TABLE shopify_webhook_queue IN ACCESS EXCLUSIVE MODE")
        locked.set()
        release.wait(30)
        connection.exec_driver_sql("ROLLBACK")
    engine.dispose()


def test_a_write_that_cannot_commit_in_time_answers_503_and_the_retry_is_stored_once(
    receiver_factory: Callable[..., WebhookServer],
    sender_for: Callable[[str, str], Sender],
    client_secret: str,
    database_url: str,
    read_queue: Rows,
) -> None:
    server = receiver_factory(answer_budget_seconds=0.5)
    sender = sender_for(server.webhook_url, client_secret)
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(database_url, locked, release))
    holder.start()
    assert locked.wait(10)
    try:
        refused = sender.post("orders/create", {"id": 42}, webhook_id="w-42")
    finally:
        release.set()
        holder.join(10)
    assert refused.status_code == 503
    # Shopify retries the 503: the write that was still waiting for the lock may have
    # committed meanwhile, and then the retry is recognised as its duplicate.
    retried = sender.post("orders/create", {"id": 42}, webhook_id="w-42")
    assert retried.status_code == 200
    rows = read_queue()
    assert [(r["webhook_id"], r["resource_id"]) for r in rows] == [("w-42", 42)]


def test_a_failing_database_answers_503(
    receiver: WebhookServer, sender: Sender, database_url: str, read_queue: Rows
) -> None:
    engine = create_queue_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE shopify_webhook_queue"))
    engine.dispose()
    answer = sender.post("orders/create", {"id": 1})
    assert answer.status_code == 503
    assert answer.json() == {"error": "queue unavailable, retry later"}


@sqlite_only
def test_health(receiver: WebhookServer) -> None:
    answer = requests.get(receiver.base_url + "/healthz", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    receiver.writer.close()
    answer = requests.get(receiver.base_url + "/healthz", timeout=10)
    assert (answer.status_code, answer.json()) == (503, {"error": "queue writer stopped"})


def test_concurrent_deliveries_get_distinct_increasing_positions(
    sender: Sender, sender_for: Callable[[str, str], Sender], read_queue: Rows
) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def send(start: int) -> None:
        session = sender_for(sender.url, sender.secret)
        for i in range(start, start + 10):
            answer = session.post("orders/create", {"id": i}, webhook_id=f"w-{i}")
            with lock:
                results.append(answer.json()["position"])

    threads = [threading.Thread(target=send, args=(n * 100 + 1,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_queue()
    assert sorted(results) == [r["position"] for r in rows] == list(range(1, 51))
    assert sorted(json.loads(bytes(r["body"]))["id"] for r in rows) == sorted(
        n * 100 + 1 + i for n in range(5) for i in range(10)
    )


def test_without_a_webhook_id_the_event_id_still_finds_duplicates(
    sender: Sender, read_queue: Rows
) -> None:
    # A sender that omits X-Shopify-Webhook-Id: an empty header is no id at all.
    no_id = {"X-Shopify-Webhook-Id": ""}
    answers = [
        sender.post("customers/update", {"id": 3}, event_id="e-3", headers=no_id),
        sender.post("customers/update", {"id": 3}, event_id="e-3", headers=no_id),
        sender.post("customers/update", {"id": 3}, headers=no_id),
        sender.post("customers/update", {"id": 3}, headers=no_id),
    ]
    assert [a.json()["duplicate"] for a in answers] == [False, True, False, False]
    rows = read_queue()
    assert [(r["webhook_id"], r["event_id"], r["duplicate_count"]) for r in rows] == [
        (None, "e-3", 1),
        (None, None, 0),
        (None, None, 0),
    ]


def test_a_compliance_delivery_for_another_shop_is_not_honoured(
    sender: Sender, read_queue: Rows
) -> None:
    body = {"shop_domain": "victim.myshopify.com", "customer": {"id": 1, "email": "v@x.io"}}
    answer = sender.post("customers/redact", body)
    assert (answer.status_code, answer.json()["state"]) == (200, "ignored")
    [row] = read_queue()
    assert row["ignored_reason"] == (
        f"the body names shop 'victim.myshopify.com', the header {SHOP!r}"
    )
