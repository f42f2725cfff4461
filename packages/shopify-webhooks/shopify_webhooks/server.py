"""Serving the receiver with uvicorn in a background thread (the CLI, tests, the bench)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from shopify_webhooks.app import WEBHOOK_PATH, build_app
from shopify_webhooks.queue import WebhookQueue
from shopify_webhooks.settings import ReceiverSettings
from shopify_webhooks.writer import BatchWriter


class _ListeningServer(uvicorn.Server):
    """uvicorn's server, calling back once its socket accepts connections."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Bind as uvicorn does, then report (unless binding failed)."""
        await super().startup(sockets)
        if self.started:
            self.on_listening()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class WebhookServer:
    """The receiver on ``host:port`` writing to the settings' queue.

    Example:
        >>> server = WebhookServer(settings).start()  # doctest: +SKIP
        >>> requests.post(server.webhook_url, data=body, headers=signed_headers)  # doctest: +SKIP
        >>> server.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: ReceiverSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
    ) -> None:
        """Open the queue (creating its table) but do not serve yet; port 0 picks one."""
        self.settings = settings
        self.host = host
        self.port = port or _free_port(host)
        self.access_log = access_log
        self.queue = WebhookQueue(settings.database_url)
        self.writer = BatchWriter(self.queue)
        # The uvicorn server, and its thread when serving in the background.
        self._running: tuple[_ListeningServer, threading.Thread | None] | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """The address to subscribe every topic to."""
        return self.base_url + WEBHOOK_PATH

    def _uvicorn(self, on_listening: Callable[[], None]) -> _ListeningServer:
        config = uvicorn.Config(
            build_app(self.queue, self.writer, self.settings),
            host=self.host,
            port=self.port,
            # uvicorn's access lines are INFO; without them only its warnings are news.
            log_level="info" if self.access_log else "warning",
            access_log=self.access_log,
            lifespan="off",
        )
        return _ListeningServer(config, on_listening)

    def serve_forever(self, on_listening: Callable[[], None] = lambda: None) -> None:
        """Serve in this (the main) thread until SIGTERM or SIGINT, then drain and return.

        uvicorn handles the signals: it stops accepting, lets in-flight writes commit and
        answer, then returns.
        """
        server = self._uvicorn(on_listening)
        self._running = (server, None)
        try:
            server.run()
        finally:
            self._running = None
            self.writer.close()
            self.queue.dispose()

    def start(self) -> WebhookServer:
        """Serve in a background thread; returns once the port accepts connections."""
        listening = threading.Event()
        server = self._uvicorn(listening.set)
        thread = threading.Thread(target=server.run, name="shopify-webhooks", daemon=True)
        self._running = (server, thread)
        thread.start()
        deadline = time.monotonic() + 15
        while not listening.wait(0.05):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the webhook receiver failed to start on {self.base_url}")
        return self

    def stop(self) -> None:
        """Stop a background server, wait for in-flight writes, close the connections."""
        if self._running is not None:
            server, thread = self._running
            server.should_exit = True  # uvicorn drains in-flight requests, then returns
            if thread is not None:
                thread.join(timeout=10)
            self._running = None
        self.writer.close()
        self.queue.dispose()

    def __enter__(self) -> WebhookServer:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving it."""
        self.stop()
