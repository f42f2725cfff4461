"""The receiver's HTTP app: verify, classify, commit, then answer.

``POST /webhooks`` is the one address to give Shopify for every topic (the topic travels in
``X-Shopify-Topic``). ``GET /healthz`` answers 200 when the queue's database answers.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopify_webhooks.domain.signature import is_signed_by
from shopify_webhooks.domain.topics import classify
from shopify_webhooks.queue import ORIGIN_WEBHOOK, Delivery, StoreOutcome, WebhookQueue
from shopify_webhooks.settings import ReceiverSettings
from shopify_webhooks.writer import BatchWriter

logger = logging.getLogger("shopify_webhooks")
WEBHOOK_PATH = "/webhooks"
_HEADER_LIMITS = {"webhook_id": 255, "event_id": 255, "triggered_at": 64, "api_version": 32}


def _header(request: Request, name: str, limit: int = 255) -> str | None:
    # Column widths bound what is kept; Shopify's values (UUIDs, timestamps) are far shorter.
    value = request.headers.get(name, "").strip()
    return value[:limit] or None


def delivery_from(request: Request, body: bytes) -> Delivery:
    """The delivery a signed request carries (headers are case-insensitive)."""
    topic = (_header(request, "x-shopify-topic") or "").lower()
    shop_domain = (_header(request, "x-shopify-shop-domain") or "").lower()
    return Delivery(
        origin=ORIGIN_WEBHOOK,
        shop_domain=shop_domain,
        topic=topic,
        webhook_id=_header(request, "x-shopify-webhook-id", _HEADER_LIMITS["webhook_id"]),
        event_id=_header(request, "x-shopify-event-id", _HEADER_LIMITS["event_id"]),
        triggered_at=_header(request, "x-shopify-triggered-at", _HEADER_LIMITS["triggered_at"]),
        api_version=_header(request, "x-shopify-api-version", _HEADER_LIMITS["api_version"]),
        classification=classify(topic, shop_domain, body),
        body=body,
    )


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def build_app(queue: WebhookQueue, writer: BatchWriter, settings: ReceiverSettings) -> Starlette:
    """The Starlette app: ``writer`` commits deliveries to ``queue``."""

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _refused(413, "body too large")
        body = await _read_capped(request, settings.max_body_bytes)
        if body is None:
            return _refused(413, "body too large")
        if not is_signed_by(body, request.headers.get("x-shopify-hmac-sha256"), settings.secrets):
            logger.warning("refused a delivery without a valid signature (401)")
            return _refused(401, "invalid signature")
        delivery = delivery_from(request, body)
        try:
            # The write goes on after a timeout; if it then commits, Shopify's retry of the
            # 503 is recognised as its duplicate, so nothing is stored twice.
            # shield: a timeout abandons the wait, never the write.
            outcome: StoreOutcome = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(writer.submit(delivery))),
                settings.answer_budget_seconds,
            )
        except TimeoutError:
            budget = settings.answer_budget_seconds
            logger.error("queue write not committed within %.1fs: 503", budget)
            return _refused(503, "queue busy, retry later")
        except Exception as error:  # noqa: BLE001 - any failed write is a 503, Shopify retries
            # The class only: a driver message can quote the statement and so the payload.
            logger.error("queue write failed (%s): 503", type(error).__name__)
            return _refused(503, "queue unavailable, retry later")
        logger.info(
            "%s %s from %s at position %d%s",
            "duplicate" if outcome.duplicate else delivery.classification.state.value,
            delivery.topic or "(no topic)",
            delivery.shop_domain or "(no shop)",
            outcome.position,
            f" ({delivery.classification.reason})" if delivery.classification.reason else "",
        )
        return JSONResponse(
            {
                "position": outcome.position,
                "duplicate": outcome.duplicate,
                "state": delivery.classification.state.value,
            }
        )

    async def health(_request: Request) -> JSONResponse:
        def ping() -> None:
            with queue.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))

        if not writer.alive:
            return _refused(503, "queue writer stopped")
        try:
            await asyncio.wait_for(run_in_threadpool(ping), settings.answer_budget_seconds)
        except (TimeoutError, SQLAlchemyError):
            return _refused(503, "queue unavailable")
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
