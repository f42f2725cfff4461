"""What both stand-ins share: the HTTP server thread, fault injection and the control routes.

A stand-in is a Starlette app served by uvicorn on 127.0.0.1 in a background thread.
Every request to a platform path passes the fault guard first; ``/_standin/<method>`` is
the control API and is never faulted.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from platform_standins.clock import StandinClock
from platform_standins.faults import NO_FAULT, FaultDecision, FaultPlan, decision_dict

if TYPE_CHECKING:
    from platform_standins.control import BaseControl

CONTROL_PREFIX = "/_standin/"
TRANSPORT_KEY = "standin.transport"
FAULT_KEY = "standin.fault"
# Request headers never kept in the log: they carry the credentials.
SECRET_HEADERS = frozenset({"authorization", "x-ometria-auth"})


class _AbortableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, handing each request its transport so a fault can cut it.

    A plain ASGI app cannot close a connection without answering (uvicorn then sends a
    500), but a platform that crashed after storing a batch answers nothing at all.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Remember the transport in every request's scope on this connection."""
        super().connection_made(transport)
        app = self.app

        async def with_transport(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})[TRANSPORT_KEY] = transport
            await app(scope, receive, send)

        self.app = with_transport


async def _drain(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


class _FaultGuard:
    """ASGI wrapper applying the armed faults to platform requests."""

    def __init__(self, app: ASGIApp, server: StandinServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        decision = self.server.faults.take()
        scope[FAULT_KEY] = decision
        if decision.refused:
            body = await _drain(receive)
            response = await run_in_threadpool(self.server.refuse, scope, body, decision)
            await response(scope, receive, send)
            return

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and decision.slow_seconds:
                await asyncio.sleep(decision.slow_seconds)
            if not decision.drop_connection:
                await send(message)

        await self.app(scope, receive, guarded_send)
        if decision.drop_connection:
            transport = scope.get("extensions", {}).get(TRANSPORT_KEY)
            if transport is not None:
                transport.abort()
            # Let the loop run connection_lost, so uvicorn sees the client gone and does
            # not answer a 500 for the response we swallowed.
            for _ in range(3):
                await asyncio.sleep(0)


def fault_of(request: Request) -> FaultDecision:
    """The fault decision the guard took for ``request``."""
    decision = request.scope.get(FAULT_KEY, NO_FAULT)
    return decision if isinstance(decision, FaultDecision) else NO_FAULT


def safe_headers(request: Request) -> dict[str, str]:
    """The request's headers without the credential headers."""
    return {k: v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS}


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class StandinServer:
    """Base of both stand-ins: state shared by every platform, and the server thread."""

    platform = "standin"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Configure (not start) the server; ``port=0`` picks a free port."""
        self.host = host
        self.port = port or _free_port(host)
        self.clock = StandinClock()
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self.request_log: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- to be provided by each platform -------------------------------------------

    @property
    def control(self) -> BaseControl:
        """The control API object."""
        raise NotImplementedError

    def platform_routes(self) -> list[Route]:
        """The platform's own HTTP routes."""
        raise NotImplementedError

    def refusal_body(self, decision: FaultDecision, request_id: str) -> dict[str, Any]:
        """The platform's JSON answer to an injected auth failure or 5xx."""
        raise NotImplementedError

    def reset_platform(self) -> None:
        """Forget everything the platform received (called under the lock)."""
        raise NotImplementedError

    def new_request_id(self) -> str:
        """A request id in the platform's style."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what the client's ``*_api_url`` setting points at."""
        return f"http://{self.host}:{self.port}"

    def log_request(self, request: Request, body: bytes, **fields: Any) -> dict[str, Any]:
        """Append one entry to the request log (under the lock) and return it."""
        decision = fault_of(request)
        entry: dict[str, Any] = {
            "seq": len(self.request_log) + 1,
            "received_at": self.clock.now(),
            "method": request.method,
            "path": request.url.path,
            "headers": safe_headers(request),
            "client_request_id": request.headers.get("x-request-id"),
            "bytes": len(body),
            "fault": decision_dict(decision),
            "dropped_connection": decision.drop_connection,
            **fields,
        }
        self.request_log.append(entry)
        return entry

    def refuse(self, scope: Scope, body: bytes, decision: FaultDecision) -> Response:
        """Answer an injected refusal, logging it (nothing is processed)."""
        request = Request(scope)
        status = 401 if decision.auth_failure else int(decision.error_status or 500)
        outcome = "fault_auth_failure" if decision.auth_failure else "fault_server_error"
        with self.lock:
            request_id = self.new_request_id()
            self.log_request(request, body, request_id=request_id, status=status, outcome=outcome)
        return JSONResponse(self.refusal_body(decision, request_id), status_code=status)

    def reset(self) -> None:
        """Forget every request and record, disarm faults, reset the clock."""
        with self.lock:
            self.request_log.clear()
            self.faults.clear()
            self.clock.reset()
            self.reset_platform()

    def build_app(self) -> ASGIApp:
        """The ASGI app: platform routes behind the fault guard, plus the control API."""
        routes = [*self.platform_routes(), *control_routes(self.control)]
        return _FaultGuard(Starlette(routes=routes), self)

    def start(self) -> StandinServer:
        """Serve in a background thread; returns once the port accepts connections."""
        config = uvicorn.Config(
            self.build_app(),
            host=self.host,
            port=self.port,
            http=_AbortableH11Protocol,
            log_level="critical",  # a dropped connection is the point, not news
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.platform} stand-in failed to start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandinServer:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving it."""
        self.stop()


def control_routes(control: BaseControl) -> list[Route]:
    """``POST|GET /_standin/<method>``: a JSON object of keyword arguments -> ``{"result"}``."""

    async def call(request: Request) -> Response:
        name = request.path_params["method"]
        if name not in control.HTTP_METHODS:
            return JSONResponse({"error": f"unknown control method {name!r}"}, status_code=404)
        raw = await request.body()
        try:
            kwargs = json.loads(raw) if raw else dict(request.query_params)
            if not isinstance(kwargs, dict):
                raise TypeError("body must be a JSON object of keyword arguments")
            method: Callable[..., Any] = getattr(control, name)
            result = await run_in_threadpool(lambda: method(**kwargs))
        except (ValueError, TypeError, KeyError) as error:
            return JSONResponse({"error": f"{name}: {error}"}, status_code=400)
        return JSONResponse({"result": result})

    return [Route(CONTROL_PREFIX + "{method}", call, methods=["POST", "GET"])]
