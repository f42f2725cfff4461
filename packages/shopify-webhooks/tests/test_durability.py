"""The receiver as a real process: kill -9 after a 200 loses nothing; the secret leaks nowhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from shopify_webhooks.queue import create_queue_engine
from shopify_webhooks.settings import SECRET_ENV

Sender = Any
Rows = Callable[[], list[dict[str, Any]]]


class ReceiverProcess:
    """``shopify-webhooks serve`` in its own process, its output captured in files."""

    def __init__(self, database_url: str, secret: str, workdir: Path) -> None:
        self.workdir = workdir
        ready = workdir / f"ready-{uuid.uuid4().hex}.json"
        self.stdout = (workdir / "stdout.log").open("ab")
        self.stderr = (workdir / "stderr.log").open("ab")
        env = {**os.environ, SECRET_ENV: secret}
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "shopify_webhooks", "serve", "--port", "0"),
                *("--database-url", database_url, "--ready-file", str(ready)),
            ],
            env=env,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        deadline = time.monotonic() + 60
        # The file may exist before its content is written: wait until it reads whole.
        while not (ready.exists() and ready.read_text().strip().endswith("}")):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the receiver process did not start")
            time.sleep(0.02)
        self.webhook_url = json.loads(ready.read_text())["webhook_url"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.stdout.close()
        self.stderr.close()

    def logs(self) -> str:
        return "".join(
            (self.workdir / name).read_text(errors="replace")
            for name in ("stdout.log", "stderr.log")
        )


@pytest.fixture
def receiver_process(
    database_url: str, client_secret: str, tmp_path: Path
) -> Iterator[Callable[[], ReceiverProcess]]:
    started: list[ReceiverProcess] = []

    def start() -> ReceiverProcess:
        started.append(ReceiverProcess(database_url, client_secret, tmp_path))
        return started[-1]

    yield start
    for process in started:
        process.close()


def test_kill_9_right_after_a_200_loses_no_accepted_delivery(
    receiver_process: Callable[[], ReceiverProcess],
    sender_for: Callable[[str, str], Sender],
    client_secret: str,
    read_queue: Rows,
) -> None:
    first = receiver_process()
    acknowledged: set[str] = set()
    sent: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def send(worker: int) -> None:
        sender = sender_for(first.webhook_url, client_secret)
        for i in range(200):
            if killed.is_set():
                return
            webhook_id = f"w-{worker}-{i}"
            with lock:
                sent[webhook_id] = worker * 1000 + i + 1
            try:
                answer = sender.post(
                    "orders/updated", {"id": sent[webhook_id]}, webhook_id=webhook_id
                )
            except requests.RequestException:
                return  # cut off by the kill: not acknowledged, so Shopify would retry
            if answer.status_code == 200:
                with lock:
                    acknowledged.add(webhook_id)
                    if len(acknowledged) == 40 and not killed.is_set():
                        # SIGKILL the moment the 40th 200 arrives, with others in flight.
                        first.process.send_signal(signal.SIGKILL)
                        killed.set()

    workers = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert killed.is_set()
    assert first.process.wait(10) == -signal.SIGKILL

    stored = {row["webhook_id"]: row for row in read_queue()}
    assert acknowledged <= set(stored)  # every 200 was a commit
    for webhook_id, row in stored.items():
        assert json.loads(bytes(row["body"])) == {"id": sent[webhook_id]}
        assert row["resource_id"] == sent[webhook_id]

    # Shopify retries everything that got no 200; a new process takes them, once each.
    second = receiver_process()
    retry = sender_for(second.webhook_url, client_secret)
    for webhook_id in sorted(set(sent) - acknowledged):
        answer = retry.post("orders/updated", {"id": sent[webhook_id]}, webhook_id=webhook_id)
        assert answer.status_code == 200
    rows = read_queue()
    assert sorted(row["webhook_id"] for row in rows) == sorted(sent)
    assert [row["position"] for row in rows] == sorted(row["position"] for row in rows)


def _every_value(database_url: str) -> list[str]:
    engine = create_queue_engine(database_url)
    values: list[str] = []
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        with engine.connect() as connection:
            for table in tables.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    values += [
                        bytes(v).decode(errors="replace")
                        if isinstance(v, bytes | memoryview)
                        else str(v)
                        for v in row
                    ]
    finally:
        engine.dispose()
    return values


def test_the_client_secret_is_never_logged_nor_stored(
    receiver_process: Callable[[], ReceiverProcess],
    sender_for: Callable[[str, str], Sender],
    client_secret: str,
    database_url: str,
    read_queue: Rows,
) -> None:
    process = receiver_process()
    sender = sender_for(process.webhook_url, client_secret)
    forger = sender_for(process.webhook_url, client_secret[::-1])
    answers = [
        sender.post("customers/create", {"id": 1, "email": "a@example.com"}, webhook_id="w-1"),
        sender.post("customers/create", {"id": 1, "email": "a@example.com"}, webhook_id="w-1"),
        sender.post("products/create", {"id": 2}, webhook_id="w-2"),
        forger.post("customers/create", {"id": 3}, webhook_id="w-3"),
        sender.post("customers/create", {"id": 4}, headers={"X-Shopify-Hmac-Sha256": ""}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 401]
    assert [row["webhook_id"] for row in read_queue()] == ["w-1", "w-2"]  # no 401 stored
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(60) == 0
    logs = process.logs()
    # The logs are there to read: what happened is in them, the secret is not.
    assert "received customers/create from hist-test.myshopify.com at position 1" in logs
    assert "duplicate customers/create" in logs
    assert "ignored products/create" in logs
    assert logs.count("refused a delivery without a valid signature (401)") == 2
    assert client_secret not in logs
    values = _every_value(database_url)
    assert len(values) > 20
    assert not [v for v in values if client_secret in v]
