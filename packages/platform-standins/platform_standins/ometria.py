"""A local Ometria Push API: ``POST /v2/push`` and ``GET /v2/push/_errors``.

Faithful where a delivery engine can trip: ``X-Ometria-Auth``, at most 100 records and one
``@type`` per call, at most 60 KB per record, about 8 requests per second, a 429 with
``X-QueueSize-*`` headers when the processing queue is full, "OK" meaning only "received",
validation done asynchronously after a short delay with its errors on ``/push/_errors``,
and records upserted by id (supplied fields merged into the stored record).
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_standins.control import BaseControl
from platform_standins.faults import FaultDecision
from platform_standins.ometria_rules import (
    TOO_LARGE,
    PushRefused,
    merge,
    parse_push,
    record_bytes,
    record_key,
    validate,
)
from platform_standins.server import StandinServer

ERRORS_LISTED = 100


@dataclass(frozen=True, slots=True)
class OmetriaLimits:
    """The account's limits (documented defaults; change them with ``configure``)."""

    max_records: int = 100
    max_record_bytes: int = 60_000  # "60KB", read strictly
    requests_per_second: int = 8
    queue_limit: int = 50_000
    processing_delay_seconds: float = 0.25
    retry_after_seconds: int | None = None  # Ometria documents no Retry-After
    # GDPR data-deletion requests: "rate limited to a maximum of six requests per minute".
    deletion_requests_per_minute: int = 6


class OmetriaStandin(StandinServer):
    """A running Ometria account on 127.0.0.1.

    Example:
        >>> with OmetriaStandin() as om:  # doctest: +SKIP
        ...     om.push_url  # POST a JSON array here with X-Ometria-Auth: om.api_key
        ...     om.control.records()
    """

    platform = "ometria"

    def __init__(
        self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0, **limits: Any
    ) -> None:
        """An account with this API key (random by default)."""
        super().__init__(host=host, port=port)
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.limits = replace(OmetriaLimits(), **limits)
        self.receipts: list[dict[str, Any]] = []
        self.records: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.queue: deque[dict[str, Any]] = deque()
        self._window: deque[float] = deque()
        self.deletion_requests: list[dict[str, Any]] = []
        self._deletion_window: deque[float] = deque()
        self._control = OmetriaControl(self)

    @property
    def control(self) -> OmetriaControl:
        """The control API (also served at ``/_standin/<method>``)."""
        return self._control

    @property
    def push_url(self) -> str:
        """``{base_url}/v2/push``."""
        return f"{self.base_url}/v2/push"

    def auth_headers(self) -> dict[str, str]:
        """The correct ``X-Ometria-Auth`` header (for tests)."""
        return {"X-Ometria-Auth": self.api_key}

    def new_request_id(self) -> str:
        """A UUID, like Ometria's ``request_id``."""
        return str(uuid.uuid4())

    def refusal_body(self, decision: FaultDecision, request_id: str) -> dict[str, Any]:
        """The answer to an injected 401 or 5xx."""
        message = "Authentication failed" if decision.auth_failure else "Internal server error"
        return {"status": "ERROR", "message": message, "request_id": request_id}

    def reset_platform(self) -> None:
        """Forget receipts, records, errors, the queue and the rate window."""
        self.receipts.clear()
        self.records.clear()
        self.errors.clear()
        self.queue.clear()
        self._window.clear()
        self.deletion_requests.clear()
        self._deletion_window.clear()

    def platform_routes(self) -> list[Route]:
        """``POST /v2/push`` and ``GET /v2/push/_errors``."""

        async def push(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(self.handle_push, request, body)

        async def errors(request: Request) -> Response:
            return await run_in_threadpool(self.handle_errors, request)

        async def deletion(request: Request) -> Response:
            body = await request.body()
            return await run_in_threadpool(self.handle_deletion_request, request, body)

        return [
            Route("/v2/push", push, methods=["POST"]),
            Route("/v2/push/_errors", errors, methods=["GET"]),
            Route("/v2/data-deletion-requests", deletion, methods=["POST"]),
        ]

    def handle_deletion_request(self, request: Request, body: bytes) -> Response:
        """`POST /v2/data-deletion-requests` `{email, comment}`: queued, processed later.

        403 for a key not allowed, 400 without an email, 429 past six a minute; otherwise
        the request object with its `id` (the contact is anonymised within 14 days).
        """
        with self.lock:
            request_id = self.new_request_id()
            if not self._authorised(request):
                payload = {"status": "ERROR", "message": "API key is not authorised"}
                return self._answer(request, body, request_id, 403, "forbidden", payload=payload)
            try:
                data = json.loads(body)
                email = data["email"]
                if not isinstance(email, str) or "@" not in email:
                    raise ValueError(email)
            except (ValueError, TypeError, KeyError):
                payload = {"status": "ERROR", "message": "an email address is required"}
                return self._answer(request, body, request_id, 400, "bad_request", payload=payload)
            now = self.clock.now()
            while self._deletion_window and self._deletion_window[0] <= now - 60.0:
                self._deletion_window.popleft()
            if len(self._deletion_window) >= self.limits.deletion_requests_per_minute:
                payload = {"status": "ERROR", "message": "Too many requests"}
                return self._answer(request, body, request_id, 429, "rate_limited", payload=payload)
            self._deletion_window.append(now)
            created = {
                "id": str(uuid.uuid4()),
                "action": "anonymise",
                "comment": data.get("comment"),
                "timestamp_created": now,
                "timestamp_completed": None,
            }
            self.deletion_requests.append({**created, "email": email})
            return self._answer(request, body, request_id, 200, "deletion_queued", payload=created)

    # --- the asynchronous side ------------------------------------------------------

    def settle(self, *, everything: bool = False) -> int:
        """Validate and upsert queued records whose delay has passed (all with ``everything``)."""
        with self.lock:
            now = self.clock.now()
            due = [i for i in self.queue if everything or i["ready_at"] <= now]
            for item in due:
                self.queue.remove(item)
                self._process(item, now)
            return len(due)

    def _process(self, item: dict[str, Any], now: float) -> None:
        receipt = item["receipt"]
        problems = validate(receipt["record"])
        receipt["processed_at"] = now
        if problems:
            receipt["status"] = "rejected"
            receipt["errors"] = [asdict(p) for p in problems]
            for problem in problems:
                self._add_error(receipt, problem.error_message, problem.error_path, now)
            return
        key = record_key(receipt["record"])
        self.records[key] = merge(self.records.get(key), receipt["record"])
        receipt["status"] = "stored"

    def _add_error(self, receipt: dict[str, Any], message: str, path: str, now: float) -> None:
        self.errors.append(
            {
                "error_message": message,
                "error_path": path,
                "at": now,
                "request_id": receipt["request_id"],
                "receipt_seq": receipt["seq"],
                "@type": receipt["type"],
                "id": receipt["id"],
            }
        )

    # --- the request side -----------------------------------------------------------

    def _queue_headers(self) -> dict[str, str]:
        remaining = max(self.limits.queue_limit - len(self.queue), 0)
        return {
            "X-QueueSize-Limit": str(self.limits.queue_limit),
            "X-QueueSize-Remaining": str(remaining),
        }

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get("x-ometria-auth", "")
        return bool(given) and secrets.compare_digest(given, self.api_key)

    def _answer(
        self,
        request: Request,
        body: bytes,
        request_id: str,
        status: int,
        outcome: str,
        **extra: Any,
    ) -> JSONResponse:
        payload = extra.pop("payload")
        self.log_request(
            request, body, request_id=request_id, status=status, outcome=outcome, **extra
        )
        headers = self._queue_headers()
        if status == 429 and self.limits.retry_after_seconds is not None:
            headers["Retry-After"] = str(self.limits.retry_after_seconds)
        return JSONResponse(payload, status_code=status, headers=headers)

    def _over_rate(self, now: float) -> bool:
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= self.limits.requests_per_second:
            return True
        self._window.append(now)
        return False

    def handle_push(self, request: Request, body: bytes) -> Response:
        """Auth, rate, shape, queue room; then size-check, queue and answer "OK"."""
        self.settle()
        with self.lock:
            rid = self.new_request_id()
            now = self.clock.now()
            refusal = self._push_refusal(request, body, now)
            if isinstance(refusal, tuple):
                status, outcome, message = refusal
                error = {"status": "ERROR", "message": message}
                return self._answer(request, body, rid, status, outcome, payload=error)
            records = refusal
            seq = len(self.request_log) + 1
            rejected = sum(
                self._receive(record, rid, seq, i, now) for i, record in enumerate(records)
            )
            accepted = len(records) - rejected
            counts = {"accepted": accepted, "rejected": rejected}
            payload: dict[str, Any] = {"status": "OK", "request_id": rid, **counts}
            return self._answer(
                request, body, rid, 200, "ok", payload=payload, records=len(records), **counts
            )

    def _push_refusal(
        self, request: Request, body: bytes, now: float
    ) -> tuple[int, str, str] | list[dict[str, Any]]:
        """The records of an acceptable call, or (status, outcome, message) refusing it."""
        if not self._authorised(request):
            return 401, "unauthorized", "Authentication failed"
        if self._over_rate(now):
            return 429, "rate_limited", "Too many requests"
        try:
            records = parse_push(body, self.limits.max_records)
        except PushRefused as error:
            return 400, "bad_request", error.message
        if len(self.queue) + len(records) > self.limits.queue_limit:
            return 429, "queue_full", "Too many records waiting to be processed"
        return records

    def _receive(self, record: dict[str, Any], rid: str, seq: int, index: int, now: float) -> bool:
        """Keep one record's receipt; queue it, or reject it at once when too large."""
        size = record_bytes(record)
        receipt: dict[str, Any] = {
            "seq": len(self.receipts) + 1,
            "request_id": rid,
            "request_seq": seq,
            "index": index,
            "type": record.get("@type"),
            "collection": record.get("@collection"),
            "id": record.get("id"),
            "record": copy.deepcopy(record),
            "bytes": size,
            "received_at": now,
            "status": "queued",
            "errors": [],
            "processed_at": None,
        }
        self.receipts.append(receipt)
        if size > self.limits.max_record_bytes:
            receipt.update(status="rejected", processed_at=now)
            receipt["errors"] = [{"error_message": TOO_LARGE, "error_path": "root"}]
            self._add_error(receipt, TOO_LARGE, "root", now)
            return True
        ready = now + self.limits.processing_delay_seconds
        self.queue.append({"ready_at": ready, "receipt": receipt})
        return False

    def handle_errors(self, request: Request) -> Response:
        """The latest record errors, newest first, in Ometria's two documented fields."""
        self.settle()
        with self.lock:
            rid = self.new_request_id()
            if not self._authorised(request):
                payload = {"status": "ERROR", "message": "Authentication failed"}
                return self._answer(request, b"", rid, 401, "unauthorized", payload=payload)
            latest = self.errors[-ERRORS_LISTED:][::-1]
            listed = [
                {"error_message": e["error_message"], "error_path": e["error_path"]} for e in latest
            ]
            self.log_request(request, b"", request_id=rid, status=200, outcome="errors_listed")
        return JSONResponse(listed)


class OmetriaControl(BaseControl):
    """What the account received, stored, rejected and still has queued."""

    HTTP_METHODS: ClassVar[frozenset[str]] = BaseControl.HTTP_METHODS | {
        "records",
        "record",
        "history",
        "errors",
        "rejected",
        "queue",
        "drain",
        "counts",
        "configure",
        "deletion_requests",
    }
    server: OmetriaStandin

    def records(self, type: str | None = None) -> list[dict[str, Any]]:
        """The current record per (``@type``, ``@collection``, ``id``), after every upsert so far.

        Each: ``type``, ``collection``, ``id``, ``record`` (merged fields), ``receipts``
        (how many stored receipts built it).
        """
        self.server.settle()
        with self.server.lock:
            stored = Counter(
                record_key(r["record"]) for r in self.server.receipts if r["status"] == "stored"
            )
            found = [
                {"type": k[0], "collection": k[1], "id": k[2], "record": v, "receipts": stored[k]}
                for k, v in self.server.records.items()
                if type is None or k[0] == type
            ]
            return copy.deepcopy(found)

    def record(self, type: str, id: str, collection: str | None = None) -> dict[str, Any] | None:
        """The current merged record, or ``None`` if none is stored under that key."""
        self.server.settle()
        with self.server.lock:
            return copy.deepcopy(self.server.records.get((type, collection, str(id))))

    def history(self, type: str | None = None, id: str | None = None) -> list[dict[str, Any]]:
        """Every record received, in order, with its fate: ``status`` (``queued`` |
        ``stored`` | ``rejected``), ``errors``, ``request_id``, ``index``, ``bytes``..."""
        self.server.settle()
        found = self._copy(self.server.receipts)
        return [
            r
            for r in found
            if (type is None or r["type"] == type) and (id is None or str(r["id"]) == str(id))
        ]

    def errors(self) -> list[dict[str, Any]]:
        """Every record error so far, oldest first, with the record it belongs to (the
        HTTP ``/push/_errors`` shows only the latest 100, newest first, without the ids)."""
        self.server.settle()
        found: list[dict[str, Any]] = self._copy(self.server.errors)
        return found

    def rejected(self) -> list[dict[str, Any]]:
        """The receipts rejected (too large at once, or failing validation later)."""
        return [r for r in self.history() if r["status"] == "rejected"]

    def queue(self) -> dict[str, int]:
        """Records waiting for validation, and the queue's limit and room."""
        self.server.settle()
        with self.server.lock:
            queued = len(self.server.queue)
            limit = self.server.limits.queue_limit
        return {"queued": queued, "limit": limit, "remaining": max(limit - queued, 0)}

    def drain(self) -> int:
        """Process every queued record now, delay or not; returns how many."""
        return self.server.settle(everything=True)

    def deletion_requests(self) -> list[dict[str, Any]]:
        """Each GDPR data-deletion request taken: ``id``, ``email``, ``comment``,
        ``timestamp_created`` (what the account would anonymise within 14 days)."""
        return self._copy(self.server.deletion_requests)

    def counts(self) -> dict[str, Any]:
        """Exact totals: requests by outcome, receipts by status, current records by type."""
        self.server.settle()
        with self.server.lock:
            outcomes = Counter(e["outcome"] for e in self.server.request_log)
            receipts = Counter(r["status"] for r in self.server.receipts)
            records = Counter(k[0] for k in self.server.records)
        return {
            "requests": sum(outcomes.values()),
            "requests_by_outcome": dict(sorted(outcomes.items())),
            "received": sum(receipts.values()),
            "queued": receipts["queued"],
            "stored": receipts["stored"],
            "rejected": receipts["rejected"],
            "records_by_type": dict(sorted(records.items())),
        }

    def configure(self, **limits: Any) -> dict[str, Any]:
        """Change limits (``max_records``, ``max_record_bytes``, ``requests_per_second``,
        ``queue_limit``, ``processing_delay_seconds``, ``retry_after_seconds``)."""
        known = {f.name for f in fields(OmetriaLimits)}
        unknown = sorted(set(limits) - known)
        if unknown:
            raise ValueError(f"unknown limit(s) {unknown}; use {sorted(known)}")
        with self.server.lock:
            self.server.limits = replace(self.server.limits, **limits)
            return asdict(self.server.limits)
