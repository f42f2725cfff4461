"""Privacy requests created on the command line, stored in the queue like a webhook."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from shopify_webhooks.domain.privacy import PrivacyRequest
from shopify_webhooks.domain.topics import classify
from shopify_webhooks.exceptions import ConfigurationError
from shopify_webhooks.queue import ORIGIN_LOCAL, Delivery, StoreOutcome, WebhookQueue


def store_local_request(
    queue: WebhookQueue, request: PrivacyRequest, now: datetime | None = None
) -> StoreOutcome:
    """Queue ``request`` as its compliance topic, marked ``origin = local``.

    Raises:
        ConfigurationError: the request names no shop, or no customer where it must.
    """
    problems = request.problems()
    if problems:
        raise ConfigurationError("; ".join(problems))
    now = now or datetime.now(UTC)
    body = json.dumps(request.to_payload(), separators=(",", ":")).encode("utf-8")
    delivery = Delivery(
        origin=ORIGIN_LOCAL,
        shop_domain=request.shop_domain,
        topic=request.kind.value,
        # A fresh id: two requests typed alike are two requests, never duplicates.
        webhook_id=f"local-{uuid.uuid4()}",
        event_id=None,
        triggered_at=now.isoformat().replace("+00:00", "Z"),
        api_version=None,
        classification=classify(request.kind.value, request.shop_domain, body),
        body=body,
    )
    return queue.store(delivery, now)
