"""Group commit: batches share a transaction, a bad row fails alone, duplicates stay duplicates."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import pytest
import sqlalchemy as sa
from shopify_webhooks.domain.topics import classify
from shopify_webhooks.queue import ORIGIN_WEBHOOK, Delivery, StoreOutcome, WebhookQueue
from shopify_webhooks.writer import BatchWriter

SHOP = "w.myshopify.com"


def _delivery(webhook_id: str, order_id: int) -> Delivery:
    body = f'{{"id": {order_id}}}'.encode()
    return Delivery(
        origin=ORIGIN_WEBHOOK,
        shop_domain=SHOP,
        topic="orders/updated",
        webhook_id=webhook_id,
        event_id=None,
        triggered_at=None,
        api_version="2025-01",
        classification=classify("orders/updated", SHOP, body),
        body=body,
    )


class GatedQueue(WebhookQueue):
    """The real queue, holding its first write until released, refusing 'poison' rows."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.batches: list[int] = []

    def store_many(
        self, deliveries: Sequence[Delivery], now: datetime | None = None
    ) -> list[StoreOutcome]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(deliveries))
        if any(d.webhook_id == "poison" for d in deliveries):
            raise sa.exc.OperationalError("INSERT", {}, Exception("refused"))
        return super().store_many(deliveries, now)


def test_waiting_deliveries_share_a_commit_and_a_bad_one_fails_alone(database_url: str) -> None:
    queue = GatedQueue(database_url)
    writer = BatchWriter(queue)
    try:
        first = writer.submit(_delivery("w-0", 100))  # taken alone, held at the gate
        assert queue.entered.wait(10)
        futures = [writer.submit(_delivery(f"w-{i}", 100 + i)) for i in range(1, 6)]
        poison = writer.submit(_delivery("poison", 999))
        again = writer.submit(_delivery("w-3", 103))
        queue.gate.set()
        outcomes = [f.result(10) for f in [first, *futures]]
        with pytest.raises(sa.exc.OperationalError):
            poison.result(10)
        repeated = again.result(10)
    finally:
        writer.close()
        queue.dispose()
    assert [o.duplicate for o in outcomes] == [False] * 6
    assert sorted(o.position for o in outcomes) == [o.position for o in outcomes]
    assert repeated == StoreOutcome(outcomes[3].position, duplicate=True)
    # The gate held the first write, so the other seven waited together: their batch failed
    # on the poison row, then each of its deliveries was written alone.
    assert queue.batches == [1, 7, 1, 1, 1, 1, 1, 1, 1]
    check = WebhookQueue(database_url, create=False)
    rows = check.rows_after(0, 100)
    check.dispose()
    assert [r.webhook_id for r in rows] == [f"w-{i}" for i in range(6)]
    assert [r.duplicate_count for r in rows] == [0, 0, 0, 1, 0, 0]


def test_close_writes_what_was_submitted(sqlite_url: str) -> None:
    queue = WebhookQueue(sqlite_url)
    writer = BatchWriter(queue, max_batch=3)
    futures = [writer.submit(_delivery(f"w-{i}", i + 1)) for i in range(10)]
    writer.close()
    assert [f.result(0).position for f in futures] == list(range(1, 11))
    queue.dispose()
