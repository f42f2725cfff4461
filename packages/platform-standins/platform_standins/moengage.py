"""A local MoEngage Data API: bulk import ``POST /v1/transition/{workspace_id}``.

Faithful where a delivery engine can trip: Basic auth plus ``MOE-APPKEY``, the 100 KB
body limit (413), the per-minute user and event limits (429), MoEngage's 400 envelope for
structurally broken bodies, and otherwise always 200 "accepted" with no per-record
feedback and no dedup. Forbidden ``customer_id`` values and future-dated events are
silently dropped, as the platform does; the control API shows them with the reason.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
import string
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_standins.control import BaseControl
from platform_standins.faults import FaultDecision
from platform_standins.moengage_rules import (
    ACCEPTED_MESSAGE,
    BadRequest,
    action_verdict,
    counted,
    is_forbidden_customer_id,
    parse_transition,
)
from platform_standins.server import StandinServer

WINDOW_SECONDS = 60.0
AUTH_MISSING = "Authentication Header Required"
AUTH_MISMATCH = "App Secret key mismatch. Please login to the dashboard to verify key"


@dataclass(frozen=True, slots=True)
class MoEngageLimits:
    """The workspace's limits (documented defaults; change them with ``configure``)."""

    max_request_bytes: int = 100_000  # "100 KB", read strictly
    users_per_minute: int = 10_000
    events_per_minute: int = 30_000
    future_tolerance_seconds: float = 0.0
    retry_after_seconds: int | None = None  # MoEngage documents no Retry-After
    require_appkey_header: bool = True
    # The rate window ("per minute"). Only a benchmark shortens it, scaling both limits by
    # the same factor, so a short run shows the sustained rate rather than one burst.
    rate_window_seconds: float = WINDOW_SECONDS
    # Merge User API: "1000 user updates per minute", and the merge should come at least
    # 2 hours after the retained user id first appeared (each merge records whether it did).
    merges_per_minute: int = 1_000
    merge_min_age_seconds: float = 7_200.0
    deletes_per_minute: int = 5_000  # Delete User API, one user per request


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request answered with an error status; nothing of it is stored."""

    status: int
    outcome: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class MoEngageStandin(StandinServer):
    """A running MoEngage workspace on 127.0.0.1.

    Example:
        >>> with MoEngageStandin() as moe:  # doctest: +SKIP
        ...     moe.transition_url  # POST here with Basic workspace_id:api_key
        ...     moe.control.events()
    """

    platform = "moengage"

    def __init__(
        self,
        *,
        workspace_id: str = "STANDINWORKSPACE",
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **limits: Any,
    ) -> None:
        """A workspace with these credentials (a random Data API key by default)."""
        super().__init__(host=host, port=port)
        self.workspace_id = workspace_id
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.limits = replace(MoEngageLimits(), **limits)
        self.elements: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._window: deque[tuple[float, int, int]] = deque()
        self.merges: list[dict[str, Any]] = []
        self._merge_window: deque[tuple[float, int]] = deque()
        self.deletions: list[dict[str, Any]] = []
        self._delete_window: deque[float] = deque()
        self._first_seen: dict[str, float] = {}
        self._control = MoEngageControl(self)

    @property
    def control(self) -> MoEngageControl:
        """The control API (also served at ``/_standin/<method>``)."""
        return self._control

    @property
    def transition_url(self) -> str:
        """The bulk import URL for this workspace."""
        return f"{self.base_url}/v1/transition/{self.workspace_id}"

    def auth_headers(self) -> dict[str, str]:
        """Correct ``Authorization`` and ``MOE-APPKEY`` headers (for tests)."""
        token = base64.b64encode(f"{self.workspace_id}:{self.api_key}".encode()).decode()
        return {"Authorization": f"Basic {token}", "MOE-APPKEY": self.workspace_id}

    def new_request_id(self) -> str:
        """Eight letters, like MoEngage's error ``request_id``."""
        return "".join(secrets.choice(string.ascii_letters) for _ in range(8))

    def refusal_body(self, decision: FaultDecision, request_id: str) -> dict[str, Any]:
        """MoEngage's envelope for an injected 401 or 5xx."""
        if decision.auth_failure:
            return _fail(AUTH_MISMATCH, "Authentication required", request_id)
        message = "An unexpected error was encountered while processing this request."
        return _fail(message, "ServerError", request_id)

    def reset_platform(self) -> None:
        """Forget elements, events and the rate window."""
        self.elements.clear()
        self.events.clear()
        self._window.clear()
        self.merges.clear()
        self._merge_window.clear()
        self.deletions.clear()
        self._delete_window.clear()
        self._first_seen.clear()

    def platform_routes(self) -> list[Route]:
        """``POST /v1/transition/{workspace_id}``."""

        async def transition(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(self.handle_transition, request, body)

        async def merge(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(self.handle_merge, request, body)

        async def delete(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(self.handle_delete, request, body)

        return [
            Route("/v1/transition/{workspace_id}", transition, methods=["POST"]),
            Route("/v1/customer/merge", merge, methods=["POST"]),
            Route("/v1/customer/delete", delete, methods=["POST"]),
        ]

    def handle_merge(self, request: Request, body: bytes) -> Response:
        """Merge User API: Basic auth and `app_id`, `merge_data` pairs, 1000 per minute."""
        with self.lock:
            request_id = self.new_request_id()
            refusal, pairs = self._check_merge(request, body, request_id)
            if refusal is not None:
                return self._refuse(request, body, request_id, refusal)
            entry = self.log_request(
                request,
                body,
                request_id=request_id,
                status=200,
                outcome="merged",
                elements=len(pairs),
            )
            now = entry["received_at"]
            self._merge_window.append((now, len(pairs)))
            for merged, retained in pairs:
                seen = self._first_seen.get(retained)
                self.merges.append(
                    {
                        "seq": len(self.merges) + 1,
                        "request_id": request_id,
                        "merged_user": merged,
                        "retained_user": retained,
                        # Only registered users merge; MoEngage still answers success.
                        "outcome": "merged"
                        if merged in self._first_seen and seen is not None
                        else "unknown_user",
                        "retained_age_seconds": None if seen is None else now - seen,
                        "too_early": seen is not None
                        and now - seen < self.limits.merge_min_age_seconds,
                    }
                )
        return JSONResponse({"status": "success", "operation": "created"})

    def _refuse(self, request: Request, body: bytes, request_id: str, refusal: Refusal) -> Response:
        """Log a refused request (nothing of it is stored) and answer with its error."""
        self.log_request(
            request, body, request_id=request_id, status=refusal.status, outcome=refusal.outcome
        )
        return JSONResponse(refusal.payload, status_code=refusal.status, headers=refusal.headers)

    def _app_id_auth(self, request: Request, request_id: str) -> Refusal | None:
        """Basic auth plus the workspace in `?app_id=` (the user APIs: merge, delete)."""
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        good = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user, self.workspace_id)
            and secrets.compare_digest(password, self.api_key)
            and request.query_params.get("app_id") == self.workspace_id
        )
        if good:
            return None
        message = AUTH_MISMATCH if header else AUTH_MISSING
        return Refusal(401, "unauthorized", _fail(message, "Authentication required", request_id))

    def handle_delete(self, request: Request, body: bytes) -> Response:
        """Delete User API: one user per request, 5,000 requests a minute; always "accepted"."""
        with self.lock:
            request_id = self.new_request_id()
            refusal = self._app_id_auth(request, request_id)
            value: str | None = None
            if refusal is None:
                try:
                    data = json.loads(body)
                    kind, value = data["identity_type"], str(data["identity_value"])
                    if kind not in ("customer_id", "moengage_id") or not value:
                        raise ValueError(kind)
                except (ValueError, TypeError, KeyError):
                    message = "identity_type (customer_id or moengage_id) and identity_value"
                    refusal = Refusal(400, "bad_request", _fail(message, "Bad Request", request_id))
            if refusal is None:
                now = self.clock.now()
                while self._delete_window and self._delete_window[0] <= now - WINDOW_SECONDS:
                    self._delete_window.popleft()
                if len(self._delete_window) >= self.limits.deletes_per_minute:
                    message = "Rate limits exceeded. Please Try After Some Time"
                    refusal = Refusal(
                        429, "rate_limited", _fail(message, "Rate Limits Exceeded", request_id)
                    )
            if refusal is not None:
                return self._refuse(request, body, request_id, refusal)
            entry = self.log_request(
                request, body, request_id=request_id, status=200, outcome="delete_accepted"
            )
            self._delete_window.append(entry["received_at"])
            self.deletions.append(
                {
                    "seq": len(self.deletions) + 1,
                    "request_id": request_id,
                    "identity_value": value,
                    # Hard-deleted after MoEngage's 24-hour buffer; unknown ids change nothing.
                    "outcome": "deleted" if value in self._first_seen else "unknown_user",
                    "received_at": entry["received_at"],
                }
            )
        return JSONResponse(
            {
                "status": "success",
                "message": "Your request has been accepted and will be processed soon.",
            }
        )

    def _check_merge(
        self, request: Request, body: bytes, request_id: str
    ) -> tuple[Refusal | None, list[tuple[str, str]]]:
        refused = self._app_id_auth(request, request_id)
        if refused is not None:
            return refused, []
        try:
            data = json.loads(body)
            pairs = [(str(p["merged_user"]), str(p["retained_user"])) for p in data["merge_data"]]
        except (ValueError, TypeError, KeyError):
            fail = _fail(
                "merge_data must be a list of merged_user/retained_user pairs",
                "Bad Request",
                request_id,
            )
            return Refusal(400, "bad_request", fail), []
        now = self.clock.now()
        while self._merge_window and self._merge_window[0][0] <= now - WINDOW_SECONDS:
            self._merge_window.popleft()
        if sum(n for _, n in self._merge_window) + len(pairs) > self.limits.merges_per_minute:
            fail = _fail(
                "Rate limits for merges exceeded. Please Try After Some Time",
                "Rate Limits Exceeded",
                request_id,
            )
            return Refusal(429, "rate_limited", fail), []
        return None, pairs

    # --- the request pipeline, in MoEngage's order ---------------------------------

    def handle_transition(self, request: Request, body: bytes) -> Response:
        """Auth, size, media type, body, rate limit; then store and answer 200."""
        with self.lock:
            request_id = self.new_request_id()
            checked = self._check(request, body, request_id)
            if isinstance(checked, Refusal):
                return self._refuse(request, body, request_id, checked)
            elements = checked
            users, events = counted(elements)
            entry = self.log_request(
                request,
                body,
                request_id=request_id,
                status=200,
                outcome="accepted",
                elements=len(elements),
                users=users,
                events=events,
            )
            self._window.append((entry["received_at"], users, events))
            self._store(elements, entry)
        return JSONResponse({"status": "success", "message": ACCEPTED_MESSAGE})

    def _check(
        self, request: Request, body: bytes, request_id: str
    ) -> Refusal | list[dict[str, Any]]:
        """The request's elements, or the answer refusing it (nothing is stored then)."""
        auth = self._auth_error(request)
        if auth is not None:
            return Refusal(401, "unauthorized", _fail(auth, "Authentication required", request_id))
        if len(body) > self.limits.max_request_bytes:
            message = f"Payload size exceeds {self.limits.max_request_bytes} bytes"
            return Refusal(413, "payload_too_large", _fail(message, "PayloadTooLarge", request_id))
        if "json" not in request.headers.get("content-type", ""):
            payload = _fail("Content type is not supported", "Unsupported media type", request_id)
            return Refusal(415, "unsupported_media_type", payload)
        try:
            elements = parse_transition(body)
        except BadRequest as error:
            return Refusal(400, "bad_request", error.body(request_id))
        limited = self._rate_error(*counted(elements))
        if limited is None:
            return elements
        headers = {}
        if self.limits.retry_after_seconds is not None:
            headers["Retry-After"] = str(self.limits.retry_after_seconds)
        payload = _fail(limited, "Rate Limits Exceeded", request_id)
        return Refusal(429, "rate_limited", payload, headers)

    def _auth_error(self, request: Request) -> str | None:
        header = request.headers.get("authorization")
        if not header:
            return AUTH_MISSING
        if self.limits.require_appkey_header and not request.headers.get("moe-appkey"):
            return AUTH_MISSING
        scheme, _, token = header.partition(" ")
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return AUTH_MISMATCH
        good = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user, self.workspace_id)
            and secrets.compare_digest(password, self.api_key)
            and request.path_params["workspace_id"] == self.workspace_id
        )
        if self.limits.require_appkey_header:
            good = good and request.headers.get("moe-appkey") == self.workspace_id
        return None if good else AUTH_MISMATCH

    def _rate_error(self, users: int, events: int) -> str | None:
        now = self.clock.now()
        while self._window and self._window[0][0] <= now - self.limits.rate_window_seconds:
            self._window.popleft()
        used_users = sum(u for _, u, _ in self._window)
        used_events = sum(e for _, _, e in self._window)
        if used_users + users > self.limits.users_per_minute:
            return "Rate limits for customers exceeded. Please Try After Some Time"
        if used_events + events > self.limits.events_per_minute:
            return "Rate limits for events exceeded. Please Try After Some Time"
        return None

    def _store(self, elements: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        now = entry["received_at"]
        for index, element in enumerate(elements):
            forbidden = is_forbidden_customer_id(element)
            record = {
                "seq": len(self.elements) + 1,
                "request_id": entry["request_id"],
                "request_seq": entry["seq"],
                "index": index,
                "type": element["type"],
                "customer_id": element.get("customer_id"),
                "element": copy.deepcopy(element),
                "status": "dropped" if forbidden else "stored",
                "reason": _forbidden_reason(element) if forbidden else None,
            }
            self.elements.append(record)
            if not forbidden and element.get("customer_id") is not None:
                self._first_seen.setdefault(str(element["customer_id"]), now)
            if element["type"] == "event":
                self._store_actions(element, record, now, forbidden)

    def _store_actions(
        self, element: dict[str, Any], record: dict[str, Any], now: float, forbidden: bool
    ) -> None:
        for index, action in enumerate(element["actions"]):
            reason = record["reason"] if forbidden else None
            reason = reason or action_verdict(action, now, self.limits.future_tolerance_seconds)
            self.events.append(
                {
                    "seq": len(self.events) + 1,
                    "request_id": record["request_id"],
                    "request_seq": record["request_seq"],
                    "element_seq": record["seq"],
                    "action_index": index,
                    "customer_id": element.get("customer_id"),
                    "user_identifiers": copy.deepcopy(element.get("user_identifiers")),
                    "action": action["action"],
                    "attributes": copy.deepcopy(action.get("attributes", {})),
                    "platform": action.get("platform"),
                    "current_time": action.get("current_time"),
                    "status": "dropped" if reason else "stored",
                    "reason": reason,
                }
            )


def _fail(message: str, kind: str, request_id: str) -> dict[str, Any]:
    return {"status": "fail", "error": {"message": message, "type": kind, "request_id": request_id}}


def _forbidden_reason(element: dict[str, Any]) -> str:
    return f"forbidden customer_id {element.get('customer_id')!r}"


class MoEngageControl(BaseControl):
    """What the workspace received, stored and silently dropped."""

    HTTP_METHODS: ClassVar[frozenset[str]] = BaseControl.HTTP_METHODS | {
        "elements",
        "customers",
        "events",
        "dropped",
        "profiles",
        "counts",
        "configure",
        "merges",
        "deletions",
    }
    server: MoEngageStandin

    def elements(self, status: str | None = None, type: str | None = None) -> list[dict[str, Any]]:
        """Every element of every accepted request, duplicates included, in arrival order.

        Each: ``seq``, ``request_id``, ``request_seq``, ``index`` (position in its
        request), ``type``, ``customer_id``, ``element`` (as sent), ``status``
        (``stored`` | ``dropped``) and ``reason``.
        """
        found = self._copy(self.server.elements)
        return [
            e
            for e in found
            if (status is None or e["status"] == status) and (type is None or e["type"] == type)
        ]

    def customers(self, status: str | None = None) -> list[dict[str, Any]]:
        """The ``customer`` elements (see ``elements``)."""
        return self.elements(status=status, type="customer")

    def events(self, status: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        """One entry per event action received: ``customer_id``, ``action``, ``attributes``,
        ``platform``, ``current_time`` (as sent), ``status``, ``reason``, ``request_id``..."""
        found = self._copy(self.server.events)
        return [
            e
            for e in found
            if (status is None or e["status"] == status)
            and (action is None or e["action"] == action)
        ]

    def dropped(self) -> list[dict[str, Any]]:
        """What MoEngage silently discarded: customer/device elements and event actions."""
        elements = [e for e in self.elements(status="dropped") if e["type"] != "event"]
        return elements + self.events(status="dropped")

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Each stored user's attributes, merged in arrival order (the dashboard's view)."""
        merged: dict[str, dict[str, Any]] = {}
        for element in self.customers(status="stored"):
            key = str(element["customer_id"])
            merged.setdefault(key, {}).update(element["element"].get("attributes", {}))
        return merged

    def merges(self) -> list[dict[str, Any]]:
        """Each merged pair received: ``merged_user``, ``retained_user``, ``outcome``
        (``merged`` | ``unknown_user``), ``retained_age_seconds`` and ``too_early`` (sooner
        than ``merge_min_age_seconds`` after the retained user id first arrived)."""
        return self._copy(self.server.merges)

    def deletions(self) -> list[dict[str, Any]]:
        """Each Delete User request taken: ``identity_value``, ``outcome`` (``deleted`` |
        ``unknown_user``), ``received_at``."""
        return self._copy(self.server.deletions)

    def counts(self) -> dict[str, Any]:
        """Exact totals: requests by outcome, elements and events stored and dropped."""
        with self.server.lock:
            outcomes = Counter(e["outcome"] for e in self.server.request_log)
            elements = Counter((e["type"], e["status"]) for e in self.server.elements)
            events = Counter(e["status"] for e in self.server.events)
        return {
            "requests": sum(outcomes.values()),
            "requests_by_outcome": dict(sorted(outcomes.items())),
            "customers_stored": elements[("customer", "stored")],
            "customers_dropped": elements[("customer", "dropped")],
            "devices_stored": elements[("device", "stored")],
            "event_elements": elements[("event", "stored")] + elements[("event", "dropped")],
            "events_stored": events["stored"],
            "events_dropped": events["dropped"],
        }

    def configure(self, **limits: Any) -> dict[str, Any]:
        """Change limits (``max_request_bytes``, ``users_per_minute``, ``events_per_minute``,
        ``future_tolerance_seconds``, ``retry_after_seconds``, ``require_appkey_header``,
        ``rate_window_seconds``)."""
        known = {f.name for f in fields(MoEngageLimits)}
        unknown = sorted(set(limits) - known)
        if unknown:
            raise ValueError(f"unknown limit(s) {unknown}; use {sorted(known)}")
        with self.server.lock:
            self.server.limits = replace(self.server.limits, **limits)
            return asdict(self.server.limits)
