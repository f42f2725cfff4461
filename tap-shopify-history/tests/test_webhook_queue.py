"""The webhook queue: hinted ids re-fetched, privacy requests, the position in STATE."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from shopify_emulator import generate_store
from shopify_webhooks.domain.privacy import PrivacyKind, PrivacyRequest
from shopify_webhooks.domain.topics import classify
from shopify_webhooks.local_requests import store_local_request
from shopify_webhooks.queue import Delivery, WebhookQueue
from tap_runner import TapOutput, run_tap
from tap_shopify_history.privacy import PrivacyHint, privacy_record, requested_at
from tap_shopify_history.webhook_queue import STATE_KEY

SHOP = "demo-store.myshopify.com"
OTHER_SHOP = "other-store.myshopify.com"


def put(
    queue: WebhookQueue,
    topic: str,
    body: dict[str, Any],
    *,
    shop: str = SHOP,
    webhook_id: str | None = None,
    triggered_at: str | None = "2026-01-05T10:00:00.123456789Z",
) -> int:
    """Store one delivery as the receiver would (its own row writer); returns the position."""
    raw = json.dumps(body).encode()
    delivery = Delivery(
        origin="webhook",
        shop_domain=shop,
        topic=topic,
        webhook_id=webhook_id or f"wh-{uuid.uuid4()}",
        event_id=None,
        triggered_at=triggered_at,
        api_version="2026-01",
        classification=classify(topic, shop, raw),
        body=raw,
    )
    return queue.store(delivery).position


def config_for(server: Any, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "store_url": server.base_url,
        "access_token": server.token,
        "webhook_queue_url": url,
        **extra,
    }


def by_id(output: TapOutput, stream: str) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in output.records(stream)}


def manifest(output: TapOutput, stream: str, part: str) -> dict[str, Any]:
    rows = [
        r for r in output.records("sync_manifest") if (r["stream"], r["part"]) == (stream, part)
    ]
    assert len(rows) == 1, rows
    return rows[0]


def position_in(state: dict[str, Any]) -> int | None:
    return ((state.get("bookmarks") or {}).get(STATE_KEY) or {}).get("position")


@pytest.fixture
def store_and_baseline(emulator_factory):
    server = emulator_factory(store=generate_store(seed=31, customers=8, orders=16))
    plain = {"store_url": server.base_url, "access_token": server.token}
    first = run_tap(plain)
    return server, first


def test_hinted_ids_are_fetched_once_with_current_data_and_the_page_shape(
    store_and_baseline, database_url
) -> None:
    server, first = store_and_baseline
    control = server.control
    snapshot = control.snapshot()
    customers = [c["id"] for c in snapshot["customers"]]
    childless = [c["id"] for c in snapshot["customers"] if c["number_of_orders"] == 0]
    orders = [o["id"] for o in snapshot["orders"] if not o["test"]]
    changed, gone = customers[0], next(i for i in childless if i != customers[0])
    queue = WebhookQueue(database_url)
    # Two updates of one customer, the older delivered last, and a retry of the first.
    put(queue, "customers/update", {"id": changed, "tags": "second"}, webhook_id="w-2")
    put(queue, "customers/update", {"id": changed, "tags": "first"}, webhook_id="w-1")
    put(queue, "customers/update", {"id": changed}, webhook_id="w-2")  # duplicate: not stored
    put(queue, "refunds/create", {"id": 5, "order_id": orders[0]})
    put(queue, "orders/updated", {"id": orders[0]})
    put(queue, "orders/updated", {"id": 987654321})  # no such order
    put(queue, "customers/update", {"id": 987654321})  # no such customer: not a deletion
    delete_at = put(queue, "customers/delete", {"id": gone}, webhook_id="del-1")
    last = put(queue, "customers/update", {"id": customers[1]}, shop=OTHER_SHOP)
    control.update_customer(changed, tags=["current"])
    control.delete_customer(gone)
    control.refund_order(orders[0], amount="1.00")

    state = first.final_state
    out = run_tap(config_for(server, database_url, webhook_only=True), state=state)

    assert sorted(out.ids("customers")) == [changed]
    assert out.ids("orders") == [orders[0]]
    assert out.records("customer_roster") == []
    customer = by_id(out, "customers")[changed]
    assert customer["tags"] == ["current"]
    order = by_id(out, "orders")[orders[0]]
    assert order["total_refunded_set"]["shop_money"]["amount"] != "0.00"
    # The same record shape as the scheduled page read of the same customer and order.
    scheduled = run_tap({"store_url": server.base_url, "access_token": server.token}, state)
    assert customer == by_id(scheduled, "customers")[changed]
    assert order == by_id(scheduled, "orders")[orders[0]]
    # Deleted customer -> a customer_delete request; the unknown customer is only counted.
    [deletion] = out.records("privacy_requests")
    assert deletion["kind"] == "customer_delete"
    assert deletion["customer_id"] == gone
    assert (deletion["request_id"], deletion["queue_position"]) == ("del-1", delete_at)
    # The webhooks parts reconcile: emitted + excluded == the ids asked for.
    cust = manifest(out, "customers", "webhooks")
    assert cust["shopify_count_before"] == cust["shopify_count_after"] == 3
    assert (cust["emitted"], cust["excluded"]) == (1, {"deleted": 1, "not_found": 1})
    ords = manifest(out, "orders", "webhooks")
    assert ords["shopify_count_before"] == ords["shopify_count_after"] == 2
    assert (ords["emitted"], ords["excluded"]) == (1, {"not_found": 1})
    assert {r["part"] for r in out.records("sync_manifest")} == {"webhooks"}
    # Hinted records leave the updated_at bookmark alone; the queue position moves.
    for stream in ("customers", "orders"):
        assert (
            out.final_state["bookmarks"][stream]["replication_key_value"]
            == state["bookmarks"][stream]["replication_key_value"]
        )
    assert position_in(out.final_state) == last


def test_the_position_is_kept_only_after_the_records_and_a_replay_is_the_same(
    store_and_baseline, sqlite_url
) -> None:
    server, first = store_and_baseline
    customer_id = server.control.snapshot()["customers"][2]["id"]
    queue = WebhookQueue(sqlite_url)
    put(queue, "customers/update", {"id": customer_id})
    redact_at = put(
        queue,
        "customers/redact",
        {"customer": {"id": customer_id, "email": "a@example.com"}, "orders_to_redact": [3]},
    )
    config = config_for(server, sqlite_url, webhook_only=True)

    out = run_tap(config, state=first.final_state)
    kinds = [(m["type"], m.get("stream")) for m in out.messages]
    first_with_position = next(
        i for i, m in enumerate(out.messages) if m["type"] == "STATE" and position_in(m["value"])
    )
    data_records = [
        i
        for i, (kind, stream) in enumerate(kinds)
        if kind == "RECORD" and stream in ("customers", "orders", "privacy_requests")
    ]
    assert len(data_records) == 2
    assert max(data_records) < first_with_position
    assert position_in(out.final_state) == redact_at

    # A crash before the target's STATE echo: the next run starts from the same state.
    again = run_tap(config, state=first.final_state)
    for stream in ("customers", "privacy_requests"):
        assert again.records(stream) == out.records(stream)
    # From the committed position nothing is hinted any more.
    after = run_tap(config, state=out.final_state)
    assert after.records("customers") == []
    assert after.records("privacy_requests") == []
    assert position_in(after.final_state) == redact_at


def test_privacy_rows_become_records_with_every_field(store_and_baseline, sqlite_url) -> None:
    server, first = store_and_baseline
    queue = WebhookQueue(sqlite_url)
    redact = put(
        queue,
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "customer": {"id": 7, "email": "jo@example.com", "phone": "+15556251199"},
            "orders_to_redact": [11, 12],
        },
        webhook_id="r-1",
        triggered_at="2026-01-05T10:00:00.123456789Z",
    )
    data = put(
        queue,
        "customers/data_request",
        {
            "shop_domain": SHOP,
            "customer": {"id": 8, "email": None, "phone": None},
            "orders_requested": [13],
            "data_request": {"id": 99},
        },
        webhook_id=None,
        triggered_at="not a time",
    )
    shop = put(queue, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, webhook_id="s-1")
    put(queue, "shop/redact", {"shop_id": 2, "shop_domain": OTHER_SHOP}, shop=OTHER_SHOP)
    local = store_local_request(
        queue,
        PrivacyRequest(kind=PrivacyKind.REDACT, shop_domain=SHOP, email="lo@example.com"),
        now=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
    ).position
    received = {
        row.position: row.received_at.replace(tzinfo=row.received_at.tzinfo or UTC)
        .astimezone(UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        for row in queue.rows_after(0, 100)
    }

    out = run_tap(config_for(server, sqlite_url, webhook_only=True), state=first.final_state)
    records = {r["queue_position"]: r for r in out.records("privacy_requests")}
    data_id = next(r["request_id"] for r in records.values() if r["queue_position"] == data)
    local_id = records[local]["request_id"]
    assert local_id.startswith("local-")
    assert records == {
        redact: {
            "shop_domain": SHOP,
            "request_id": "r-1",
            "kind": "customer_redact",
            "customer_id": 7,
            "email": "jo@example.com",
            "phone": "+15556251199",
            "order_ids": [11, 12],
            "data_request_id": None,
            "origin": "webhook",
            "requested_at": "2026-01-05T10:00:00Z",
            "queue_position": redact,
        },
        data: {
            "shop_domain": SHOP,
            "request_id": data_id,
            "kind": "data_request",
            "customer_id": 8,
            "email": None,
            "phone": None,
            "order_ids": [13],
            "data_request_id": 99,
            "origin": "webhook",
            "requested_at": received[data],
            "queue_position": data,
        },
        shop: {
            "shop_domain": SHOP,
            "request_id": "s-1",
            "kind": "shop_redact",
            "customer_id": None,
            "email": None,
            "phone": None,
            "order_ids": [],
            "data_request_id": None,
            "origin": "webhook",
            "requested_at": "2026-01-05T10:00:00Z",
            "queue_position": shop,
        },
        local: {
            "shop_domain": SHOP,
            "request_id": local_id,
            "kind": "customer_redact",
            "customer_id": None,
            "email": "lo@example.com",
            "phone": None,
            "order_ids": [],
            "data_request_id": None,
            "origin": "local",
            "requested_at": "2026-02-01T09:30:00Z",
            "queue_position": local,
        },
    }
    # The row's webhook id is the request id; without one, the position decides it.
    assert data_id.startswith("wh-")


def test_a_change_no_webhook_announced_is_caught_and_counted(store_and_baseline, sqlite_url):
    server, first = store_and_baseline
    control = server.control
    snapshot = control.snapshot()
    announced, silent = snapshot["customers"][3]["id"], snapshot["customers"][4]["id"]
    live = [o["id"] for o in snapshot["orders"] if not o["test"] and not o["cancelled_at"]]
    queue = WebhookQueue(sqlite_url)
    put(queue, "customers/update", {"id": announced})
    put(queue, "orders/updated", {"id": live[0]})
    control.update_customer(announced, tags=["hinted"])
    control.update_customer(silent, tags=["no webhook"])
    control.update_order(live[0], note="hinted")
    control.cancel_order(live[1])  # no webhook either

    out = run_tap(config_for(server, sqlite_url), state=first.final_state)

    window = manifest(out, "customers", "window")
    assert silent in out.ids("customers")
    assert announced in out.ids("customers")
    emitted_ids = [r["id"] for r in out.records("customers")[1:]]  # after the hinted one
    expected = sum(1 for i in emitted_ids if i != announced)
    assert window["unannounced"] == expected == 1
    orders_window = manifest(out, "orders", "window")
    order_ids = out.ids("orders")[1:]
    assert orders_window["unannounced"] == sum(1 for i in order_ids if i != live[0]) == 1
    assert "unannounced" not in manifest(out, "customers", "webhooks")
    # The window read still moves the bookmark as before.
    assert (
        out.final_state["bookmarks"]["customers"]["replication_key_value"]
        > first.final_state["bookmarks"]["customers"]["replication_key_value"]
    )


def test_without_the_queue_nothing_changes(store_and_baseline) -> None:
    _, first = store_and_baseline
    assert "privacy_requests" not in {m.get("stream") for m in first.messages}
    assert all("unannounced" not in r for r in first.records("sync_manifest"))
    assert STATE_KEY not in first.final_state.get("bookmarks", {})


@pytest.mark.parametrize(
    ("triggered", "received", "expected"),
    [
        ("2026-01-05T10:00:00.999999999Z", None, "2026-01-05T10:00:00Z"),
        ("2026-01-05T11:00:00+01:00", None, "2026-01-05T10:00:00Z"),
        ("garbage", datetime(2026, 3, 1, 8, 0, tzinfo=UTC), "2026-03-01T08:00:00Z"),
        (None, datetime(2026, 3, 1, 8, 0, 0, 500000, tzinfo=UTC), "2026-03-01T08:00:00Z"),
        ("2026-01-05T10:00:00", datetime(2026, 3, 1, 8, 0, tzinfo=UTC), "2026-03-01T08:00:00Z"),
    ],
    ids=["nanoseconds", "offset", "unparseable", "missing", "no-zone"],
)
def test_requested_at_is_triggered_at_else_received_at(triggered, received, expected) -> None:
    assert requested_at(triggered, received) == expected


def test_a_delete_hint_without_webhook_id_is_keyed_by_its_position() -> None:
    hint = PrivacyHint(
        position=42,
        shop_domain="Demo-Store.myshopify.com",
        topic="customers/delete",
        origin="webhook",
        webhook_id=None,
        triggered_at=None,
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        customer_id=5,
    )
    record = privacy_record(hint)
    assert (record["request_id"], record["kind"], record["shop_domain"]) == (
        "queue-42",
        "customer_delete",
        "demo-store.myshopify.com",
    )
    with pytest.raises(ValueError, match="queue position 42: topic 'orders/create'"):
        privacy_record(PrivacyHint(**{**hint.__dict__, "topic": "orders/create"}))


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/empty.db", "postgresql://queue:s3cret-pw@127.0.0.1:9/nowhere"],
    ids=["no-queue-table", "unreachable"],
)
def test_an_unreadable_queue_fails_the_run_without_showing_its_url(
    store_and_baseline, tmp_path, url
) -> None:
    server, first = store_and_baseline
    url = url.format(tmp=tmp_path)
    out = run_tap(config_for(server, url), state=first.final_state, expect_error=True)
    assert "webhook_queue_url" in str(out.error)
    assert "s3cret" not in str(out.error)
    assert out.records("customers") == []
    assert "s3cret" not in json.dumps(out.messages)


def test_a_small_batch_limit_pages_and_a_run_stops_after_twenty_pages(
    store_and_baseline, sqlite_url
) -> None:
    """Documented rule: a run reads up to 20 pages of `webhook_batch_limit` rows."""
    server, first = store_and_baseline
    customers = [c["id"] for c in server.control.snapshot()["customers"]]
    queue = WebhookQueue(sqlite_url)
    positions = [
        put(queue, "customers/update", {"id": customers[n % len(customers)]}) for n in range(23)
    ]
    config = config_for(server, sqlite_url, webhook_only=True, webhook_batch_limit=1)
    out = run_tap(config, state=first.final_state)
    assert position_in(out.final_state) == positions[19]  # 20 pages of 1 row
    assert sorted(out.ids("customers")) == sorted(
        {customers[n % len(customers)] for n in range(20)}
    )
    rest = run_tap(config, state=out.final_state)
    assert position_in(rest.final_state) == positions[22]
    assert sorted(rest.ids("customers")) == sorted(
        {customers[n % len(customers)] for n in range(20, 23)}
    )
