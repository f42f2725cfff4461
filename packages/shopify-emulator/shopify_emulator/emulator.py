"""The emulator's state (tokens, buckets, faults, bulk) and the HTTP server around it."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shopify_emulator.bulk import BulkManager
from shopify_emulator.control import Control, control_routes
from shopify_emulator.cost import PLANS, LeakyBucket
from shopify_emulator.faults import FaultInjector, Faults
from shopify_emulator.graphql_api import handle_graphql
from shopify_emulator.schema import SUPPORTED_VERSIONS
from shopify_emulator.store import Store
from shopify_emulator.usage import UsageMeter
from shopify_emulator.webhooks import WebhookDispatcher, WebhookSettings

FULL_SCOPES = (
    "read_customers",
    "write_customers",
    "read_orders",
    "write_orders",
    "read_all_orders",
    "read_products",
)


@dataclass(frozen=True, slots=True)
class App:
    """An installed app: its token's identity and granted scopes."""

    key: str
    scopes: frozenset[str]


class Emulator:
    """Everything one emulated shop knows besides its records."""

    def __init__(
        self,
        store: Store,
        *,
        plan: str = "standard",
        api_versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        index_lag_seconds: float = 0.0,
        bulk_seconds: float = 2.0,
        faults: Faults | None = None,
        fault_seed: int = 0,
        rate_limited: bool = True,
        webhooks: WebhookSettings | None = None,
    ) -> None:
        """Set up auth, rate limits, faults, bulk operations and webhooks for ``store``.

        ``rate_limited=False`` still reports costs but never throttles (benchmarks only).
        """
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
        self.store = store
        self.plan = plan
        self.api_versions = tuple(sorted(api_versions))
        store.index_lag = index_lag_seconds
        self.faults = FaultInjector(faults, fault_seed)
        self.bulk = BulkManager(store, self.faults, bulk_seconds)
        self.protected_denied = False
        self.rate_limited = rate_limited
        self.base_url = ""
        self.apps: dict[str, App] = {}
        self._buckets: dict[str, LeakyBucket] = {}
        self._lock = threading.Lock()
        self.usage = UsageMeter()
        self.webhooks = WebhookDispatcher(store.shop_domain, webhooks)
        self.token = self.issue_token(list(FULL_SCOPES))

    def issue_token(self, scopes: list[str]) -> str:
        """A new app installation with ``scopes``; returns its access token."""
        token = "shpat_" + secrets.token_hex(16)
        self.apps[token] = App(key=token[-8:], scopes=frozenset(scopes))
        return token

    def bucket(self, app_key: str) -> LeakyBucket:
        """The app's leaky bucket (created full on first use)."""
        with self._lock:
            found = self._buckets.get(app_key)
            if found is None:
                found = LeakyBucket(PLANS[self.plan], self.store.clock.now)
                self._buckets[app_key] = found
            return found


async def _dropped(send: Send) -> None:
    # Declare a long body, send part of it, stop: the client sees the connection cut.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"data":{"custo', "more_body": False})


class _Faulty:
    """ASGI wrapper for request-level faults that need the raw connection (drops)."""

    def __init__(self, app: Starlette, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/admin/api/"):
            faults = self.emulator.faults
            if faults.fires("slow"):
                await asyncio.sleep(faults.faults.slow_seconds)
            if faults.fires("drop"):
                await _dropped(send)
                return
            if faults.fires("error"):
                status = faults.faults.error_status
                body = json.dumps({"errors": "Internal Server Error"}).encode()
                response = Response(body, status_code=status, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _BulkFileResponse(FileResponse):
    """A bulk file, read in 1 MiB pieces: Starlette's 64 KiB pieces made each download
    cost a thread hop per 64 KiB (a third of the throughput for gigabyte files)."""

    chunk_size = 1 << 20


def build_app(emulator: Emulator) -> _Faulty:
    """The ASGI application: GraphQL Admin API, bulk files and the control API."""

    async def graphql(request: Request) -> Response:
        body = await request.body()
        emulator.usage.request()
        token = request.headers.get("x-shopify-access-token")
        status, payload, headers = await run_in_threadpool(
            handle_graphql, emulator, request.path_params["version"], token, body
        )
        headers["X-Request-Id"] = secrets.token_hex(8)
        # Shopify's own clock, to the second, as its HTTP Date header gives it: a sync
        # fixes its window's upper bound on the store's clock, not the client's.
        headers["Date"] = email.utils.formatdate(emulator.store.clock.now(), usegmt=True)
        return JSONResponse(payload, status_code=status, headers=headers)

    async def bulk_file(request: Request) -> Response:
        partial = request.query_params.get("partial") == "1"
        status, data = emulator.bulk.file(request.path_params["token"], partial)
        media = "application/jsonl" if status == 200 else "application/xml"
        if isinstance(data, str):
            emulator.usage.download(os.path.getsize(data))
            return _BulkFileResponse(data, media_type=media)
        if status == 200:
            emulator.usage.download(len(data))
        return Response(data, status_code=status, media_type=media)

    routes = [
        Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
        Route("/_bulk/{token}.jsonl", bulk_file, methods=["GET"]),
        *control_routes(emulator),
    ]
    return _Faulty(Starlette(routes=routes), emulator)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    """A running emulator on 127.0.0.1 in a background thread.

    Example:
        >>> server = EmulatorServer(generate_store(7, 40, 200)).start()
        >>> server.base_url, server.token  # doctest: +SKIP
        >>> server.stop()
    """

    def __init__(
        self,
        store: Store,
        plan: str = "standard",
        index_lag_seconds: float = 0.0,
        bulk_seconds: float = 2.0,
        *,
        api_versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        faults: Faults | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        rate_limited: bool = True,
        webhooks: WebhookSettings | None = None,
    ) -> None:
        """Configure (not start) a server for ``store``; ``port=0`` picks a free port."""
        self.emulator = Emulator(
            store,
            webhooks=webhooks,
            rate_limited=rate_limited,
            plan=plan,
            api_versions=api_versions,
            index_lag_seconds=index_lag_seconds,
            bulk_seconds=bulk_seconds,
            faults=faults,
        )
        self.store = store
        self.host = host
        self.port = port or _free_port()
        self.control = Control(self.emulator)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the Admin API lives under ``/admin/api/{version}``."""
        return f"http://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        """An access token with every scope (including read_all_orders)."""
        return self.emulator.token

    @property
    def shop_domain(self) -> str:
        """The shop's myshopify domain."""
        return self.store.shop_domain

    def graphql_url(self, version: str = "2025-01") -> str:
        """Full GraphQL endpoint URL for ``version``."""
        return f"{self.base_url}/admin/api/{version}/graphql.json"

    def start(self) -> EmulatorServer:
        """Start serving in a background thread; returns once it accepts connections."""
        self.emulator.base_url = self.base_url
        config = uvicorn.Config(
            build_app(self.emulator),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            date_header=False,  # the GraphQL answers carry the store clock's Date instead
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator failed to start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.emulator.bulk.close()
        self.emulator.webhooks.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *_: Any) -> None:
        """Stop on leaving it."""
        self.stop()
