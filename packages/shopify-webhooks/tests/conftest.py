"""Receivers over real HTTP on the test's database, and signed deliveries to send them."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from shopify_webhooks.domain.signature import shopify_headers
from shopify_webhooks.queue import create_queue_engine, queue_table
from shopify_webhooks.server import WebhookServer
from shopify_webhooks.settings import ReceiverSettings

SHOP = "hist-test.myshopify.com"


@pytest.fixture
def client_secret() -> str:
    """A fresh client secret per test, so a grep for it finds only this test's leaks."""
    return f"shpss_{uuid.uuid4().hex}"


@pytest.fixture
def receiver_factory(database_url: str, client_secret: str) -> Iterator[Callable[..., Any]]:
    """Start receivers on the test's database (SQLite, then PostgreSQL); all stop at the end."""
    with ExitStack() as running:
        yield lambda **options: running.enter_context(
            WebhookServer(
                ReceiverSettings(database_url=database_url, secrets=(client_secret,), **options)
            )
        )


@pytest.fixture
def receiver(receiver_factory: Callable[..., Any]) -> WebhookServer:
    """A receiver with the default settings."""
    return receiver_factory()


class Sender:
    """Posts signed deliveries, numbering webhook ids unless told otherwise."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def post(
        self,
        topic: str,
        payload: Any,
        *,
        shop: str = SHOP,
        webhook_id: str | None = None,
        event_id: str | None = None,
        secret: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        raw = body if body is not None else json.dumps(payload).encode()
        sent = shopify_headers(
            raw,
            secret or self.secret,
            topic=topic,
            shop_domain=shop,
            webhook_id=webhook_id or f"wh-{uuid.uuid4()}",
            event_id=event_id,
        )
        sent.update(headers or {})
        return self.session.post(self.url, data=raw, headers=sent, timeout=30)


@pytest.fixture
def sender(receiver: WebhookServer, client_secret: str) -> Sender:
    """Sends signed deliveries to ``receiver``."""
    return Sender(receiver.webhook_url, client_secret)


@pytest.fixture
def sender_for() -> Callable[[str, str], Sender]:
    """``sender_for(url, secret)``: a sender to another receiver, or with another secret."""
    return Sender


@pytest.fixture
def shop() -> str:
    """The shop every delivery comes from unless a test says otherwise."""
    return SHOP


def queue_rows(database_url: str) -> list[dict[str, Any]]:
    """Every queue row, read back from the database, in position order."""
    engine = create_queue_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(queue_table).order_by(queue_table.c.position))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


@pytest.fixture
def read_queue(database_url: str) -> Callable[[], list[dict[str, Any]]]:
    """Read the test database's queue rows."""
    return lambda: queue_rows(database_url)
