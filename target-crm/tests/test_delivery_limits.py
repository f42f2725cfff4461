"""Payloads against each documented limit, over real HTTP against the stand-ins.

MoEngage: at most 100 KB (100,000 bytes) per bulk call, packed full. Ometria: at most 100
records per call (101 make two calls), at most 60 KB per record (a larger one is rejected
locally, never sent, and reported with its size).
"""

from __future__ import annotations

import json

from crm_records import Feed, customer, later, order, run_target
from delivery_helpers import moengage_config, ometria_config, outbox
from target_crm.report import build_report


def _size(element: dict) -> int:
    return len(json.dumps(element, separators=(",", ":"), ensure_ascii=False).encode())


def test_moengage_calls_are_packed_up_to_100_kb(sqlite_url, moengage_standin):
    feed = Feed().customers(*[customer(i) for i in range(1, 301)])
    feed.orders(*[order(1000 + i, i, at=later(days=i % 20)) for i in range(1, 301)])
    # Load with no destination on, then switch MoEngage on: the store's whole content is
    # queued once (backfill) and sent in one drain, so every call but the last is full.
    run_target({"database_url": sqlite_url}, feed.manifest())
    run_target(moengage_config(sqlite_url, moengage_standin), "")

    calls = moengage_standin.control.requests(outcome="accepted")
    elements = moengage_standin.control.elements()
    assert moengage_standin.control.requests(outcome="payload_too_large") == []
    # Each profile once; contact.created and Order Placed once per customer.
    assert len([e for e in elements if e["type"] == "customer"]) == 300
    actions = [(e["customer_id"], e["action"]) for e in moengage_standin.control.events()]
    assert sorted(actions) == sorted(
        (f"customer{i}@example.com", name)
        for i in range(1, 301)
        for name in ("contact.created", "Order Placed")
    )
    by_request: dict[str, list[dict]] = {}
    for e in elements:
        by_request.setdefault(e["request_id"], []).append(e)
    envelope = len(b'{"type":"transition","elements":[]}')
    for n, call in enumerate(calls):
        sent = sorted(by_request[call["request_id"]], key=lambda e: e["index"])
        body = envelope + sum(_size(e["element"]) for e in sent) + len(sent) - 1
        assert call["bytes"] == body <= 100_000
        if n + 1 < len(calls):
            # Full: the next call's first element would have pushed this one over 100 KB.
            following = min(by_request[calls[n + 1]["request_id"]], key=lambda e: e["index"])
            assert body + 1 + _size(following["element"]) > 100_000
    assert len(calls) >= 3


def test_ometria_101_contacts_make_two_calls(sqlite_url, ometria_standin):
    feed = Feed().customers(*[customer(i) for i in range(1, 102)])
    run_target(ometria_config(sqlite_url, ometria_standin), feed.manifest())

    calls = ometria_standin.control.requests(outcome="ok")
    assert [c["records"] for c in calls] == [100, 1]
    ometria_standin.control.drain()
    assert len(ometria_standin.control.records(type="contact")) == 101


def test_ometria_record_over_60_kb_is_rejected_and_reported(sqlite_url, ometria_standin):
    lines = [
        {
            "id": 50_000 + n,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{50_000 + n}",
            "sku": f"SKU-{n:05d}",
            "title": "A long product title " * 8,
            "name": "A long product title",
            "quantity": 1,
            "current_quantity": 1,
            "vendor": "Acme",
            "product_id": 1,
            "variant_id": 2,
        }
        for n in range(400)
    ]
    big = order(2001, 1, line_items=lines)
    feed = Feed().customers(customer(1)).orders(big, order(2002, 1, at=later(days=1)))
    run_target(ometria_config(sqlite_url, ometria_standin), feed.manifest())

    rows = outbox(sqlite_url, "ometria")
    status, reason = rows[("event", "order_placed:demo-store.myshopify.com:2001")]
    assert status == "rejected"
    size = int(reason.split()[3])
    assert reason == f"record too large: {size} bytes > 60000 (Ometria's 60 KB limit)"
    assert size > 60_000
    assert rows[("event", "order_placed:demo-store.myshopify.com:2002")][0] == "sent"
    ometria_standin.control.drain()
    assert ometria_standin.control.record("order", "2001") is None
    assert ometria_standin.control.record("order", "2002")["status"] == "complete"
    entry = next(e for e in build_report(sqlite_url)["delivery"] if e["destination"] == "ometria")
    assert entry["rejected"] == 1
    assert entry["reasons"]["rejected"] == {reason: 1}
