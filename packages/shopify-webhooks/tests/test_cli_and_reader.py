"""Local privacy requests, ``status`` and ``read_hints``, read back from the queue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from shopify_webhooks import read_hints
from shopify_webhooks.cli import main
from shopify_webhooks.domain.privacy import PrivacyKind, PrivacyRequest
from shopify_webhooks.exceptions import QueueNotFoundError

Sender = Any
Rows = Callable[[], list[dict[str, Any]]]
SHOP = "hist-test.myshopify.com"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "topic", "payload"),
    [
        (
            ["redact", "--customer-id", "7", "--email", "jo@example.com", "--orders", "11,12"],
            "customers/redact",
            {
                "shop_id": None,
                "shop_domain": SHOP,
                "customer": {"id": 7, "email": "jo@example.com", "phone": None},
                "orders_to_redact": [11, 12],
            },
        ),
        (
            ["data-request", "--phone", "+15556251199", "--data-request-id", "5"],
            "customers/data_request",
            {
                "shop_id": None,
                "shop_domain": SHOP,
                "customer": {"id": None, "email": None, "phone": "+15556251199"},
                "orders_requested": [],
                "data_request": {"id": 5},
            },
        ),
        (
            ["shop-redact", "--shop-id", "954889"],
            "shop/redact",
            {"shop_id": 954889, "shop_domain": SHOP},
        ),
    ],
    ids=["redact", "data-request", "shop-redact"],
)
def test_a_local_privacy_request_is_queued_in_shopifys_shape(
    database_url: str, read_queue: Rows, args: list[str], topic: str, payload: dict[str, Any]
) -> None:
    result = _cli("privacy-request", *args, "--shop", SHOP.upper(), "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert result.output == f"queued {topic} for {SHOP} at position 1\n"
    [row] = read_queue()
    assert (row["origin"], row["state"], row["topic"], row["shop_domain"]) == (
        "local",
        "received",
        topic,
        SHOP,
    )
    assert row["webhook_id"].startswith("local-")
    assert json.loads(bytes(row["body"])) == payload


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["redact"], "name the customer: a customer id, an email or a phone"),
        (["redact", "--orders", "1,x", "--customer-id", "1"], "comma-separated positive order ids"),
        (["erase", "--customer-id", "1"], "'erase' is not one of"),
    ],
    ids=["no-customer", "bad-orders", "unknown-kind"],
)
def test_a_bad_privacy_request_is_refused_and_nothing_is_queued(
    sqlite_url: str, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        main, ["privacy-request", *args, "--shop", SHOP, "--database-url", sqlite_url]
    )
    assert result.exit_code != 0
    assert message in result.output
    engine = sa.create_engine(sqlite_url)
    assert not sa.inspect(engine).has_table("shopify_webhook_queue")
    engine.dispose()


def test_status_counts_by_topic_and_state(
    sender: Sender, database_url: str, read_queue: Rows
) -> None:
    sender.post("orders/create", {"id": 1}, webhook_id="a")
    sender.post("orders/create", {"id": 1}, webhook_id="a")
    sender.post("orders/create", {"id": 1}, webhook_id="a")
    sender.post("orders/create", {"id": 2}, webhook_id="b")
    sender.post("orders/create", {"name": "no id"}, webhook_id="c")
    sender.post("app/uninstalled", {"id": 1}, webhook_id="d")
    _cli("privacy-request", "redact", "--shop", SHOP, "--email", "x@example.com",
         "--database-url", database_url)  # fmt: skip
    result = _cli("status", "--json", "--database-url", database_url)
    assert json.loads(result.output) == [
        {"topic": "app/uninstalled", "received": 0, "duplicate": 0, "ignored": 1, "local": 0},
        {"topic": "customers/redact", "received": 1, "duplicate": 0, "ignored": 0, "local": 1},
        {"topic": "orders/create", "received": 2, "duplicate": 2, "ignored": 1, "local": 0},
    ]
    table = _cli("status", "--database-url", database_url).output.splitlines()
    assert table[0].split() == ["topic", "received", "duplicate", "ignored", "local"]
    assert table[-1].split() == ["total", "3", "2", "2", "1"]
    assert len(read_queue()) == 5


def test_status_of_a_database_without_a_queue_fails_clearly(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["status", "--database-url", sqlite_url])
    assert result.exit_code == 1
    assert "no shopify_webhook_queue table" in result.output


def test_serve_without_a_secret_refuses_to_start(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOPIFY_WEBHOOKS_CLIENT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["serve", "--database-url", sqlite_url])
    assert result.exit_code == 1
    assert "set SHOPIFY_WEBHOOKS_CLIENT_SECRET" in result.output


def test_read_hints_pages_through_the_queue(
    sender: Sender, database_url: str, read_queue: Rows
) -> None:
    sends = [
        ("customers/update", {"id": 5}),
        ("orders/updated", {"id": 50}),
        ("products/update", {"id": 1}),  # ignored, still passed by the position
        ("customers/update", {"id": 5}),  # a second change: one re-fetch
        ("refunds/create", {"id": 9, "order_id": 51}),
        ("customers/delete", {"id": 6}),
        ("customers/redact", {"customer": {"id": 6, "email": "six@example.com"}}),
    ]
    for topic, payload in sends:
        assert sender.post(topic, payload).status_code == 200
    sender.post("orders/updated", {"id": 99}, shop="other.myshopify.com")

    first = read_hints(database_url, after_position=0, limit=3)
    assert (first.position, first.ignored, first.more) == (3, 1, True)
    assert [h.position for h in first.hints] == [1, 2]
    rest = read_hints(database_url, after_position=first.position, limit=100)
    assert (rest.position, rest.ignored, rest.more) == (8, 0, False)
    assert read_hints(database_url, after_position=rest.position) == type(rest)(8, (), 0, False)

    everything = read_hints(database_url, 0)
    assert everything.ids_by_topic() == {
        "customers/delete": (6,),
        "customers/redact": (6,),
        "customers/update": (5,),
        "orders/updated": (50, 99),
        "refunds/create": (51,),
    }
    assert everything.to_fetch("customer", SHOP) == (5,)
    assert everything.to_fetch("order", SHOP) == (50, 51)
    assert everything.to_fetch("order", "other.myshopify.com") == (99,)
    assert everything.ids("customers/delete", SHOP) == (6,)
    [redact] = everything.privacy_requests()
    assert redact.privacy_request == PrivacyRequest(
        PrivacyKind.REDACT, SHOP, customer_id=6, email="six@example.com"
    )
    assert redact.origin == "webhook"


def test_read_hints_refuses_a_database_without_a_queue(sqlite_url: str) -> None:
    with pytest.raises(QueueNotFoundError):
        read_hints(sqlite_url, 0)


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0)])
def test_read_hints_refuses_bad_arguments(sqlite_url: str, after: int, limit: int) -> None:
    with pytest.raises(ValueError, match="after_position"):
        read_hints(sqlite_url, after, limit)


def test_a_reader_never_finds_a_new_row_behind_its_position(
    receiver_factory: Callable[..., Any],
    sender_for: Callable[[str, str], Sender],
    client_secret: str,
    database_url: str,
) -> None:
    # Two receivers on one database (two processes behind a load balancer, here two
    # servers): a reader polling meanwhile must see every position exactly once, in order.
    servers = [receiver_factory(), receiver_factory()]
    # One of them is slow to commit, which opens the window in which the other could
    # commit a later position first, were the writers not ordered by the database lock.
    sa.event.listen(servers[0].queue.engine, "commit", lambda _connection: time.sleep(0.02))
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        position = 0
        while True:
            finished = done.is_set()
            page = read_hints(database_url, position, limit=1000)
            assert all(h.position > position for h in page.hints)
            seen.extend(h.position for h in page.hints)
            position = page.position
            if finished:
                return

    def send(server: Any, worker: int) -> None:
        sender = sender_for(server.webhook_url, client_secret)
        for i in range(25):
            sender.post("orders/updated", {"id": worker * 100 + i + 1})

    reader = threading.Thread(target=read)
    reader.start()
    senders = [
        threading.Thread(target=send, args=(servers[w % 2], w)) for w in range(4)
    ]  # fmt: skip
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    done.set()
    reader.join(30)
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 100
