"""Reading the queue: what the tap should re-fetch, and where it has got to.

Example (in the tap, with the position kept in its STATE):
    >>> hints = read_hints(queue_url, after_position=state.get("position", 0), limit=500)
    ... # doctest: +SKIP
    >>> hints.ids("customers/update", shop_domain)  # doctest: +SKIP
    (1001, 1002)
    >>> new_state = {"position": hints.position}  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopify_webhooks.domain.ids import decode_body
from shopify_webhooks.domain.privacy import PrivacyRequest, privacy_request_from_payload
from shopify_webhooks.domain.topics import State
from shopify_webhooks.queue import WebhookQueue

DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Hint:
    """One received delivery: the resource to re-fetch (or the privacy request to honour)."""

    position: int
    shop_domain: str
    topic: str
    resource_kind: str
    resource_id: int | None
    origin: str
    webhook_id: str | None
    event_id: str | None
    triggered_at: str | None
    privacy_request: PrivacyRequest | None
    received_at: datetime | None = None  # when the receiver committed it (UTC)


@dataclass(frozen=True)
class WebhookHints:
    """A page of the queue.

    Attributes:
        position: the position to resume after next time (unchanged on an empty page). It
            passes ignored rows too, so a page of nothing but ignored rows still advances.
        hints: the received deliveries of the page, in queue order.
        ignored: how many rows of the page were ignored (unknown topic, no id, ...).
        more: whether the page was full (more rows may follow it).
    """

    position: int
    hints: tuple[Hint, ...]
    ignored: int
    more: bool

    def ids(self, topic: str, shop_domain: str | None = None) -> tuple[int, ...]:
        """The distinct resource ids of ``topic`` (for one shop, if given), ascending."""
        return tuple(
            sorted(
                {
                    h.resource_id
                    for h in self.hints
                    if h.topic == topic
                    and h.resource_id is not None
                    and (shop_domain is None or h.shop_domain == shop_domain)
                }
            )
        )

    def ids_by_topic(self) -> dict[str, tuple[int, ...]]:
        """Every topic of the page with its distinct resource ids."""
        return {topic: self.ids(topic) for topic in sorted({h.topic for h in self.hints})}

    def to_fetch(self, kind: str, shop_domain: str) -> tuple[int, ...]:
        """Distinct ids of one kind (``customer`` or ``order``) to re-fetch for a shop.

        Deletions and privacy requests are not re-fetched: the customer is gone (a fetch
        finds nothing) or must not be copied again, so they travel as their own records.
        """
        return tuple(
            sorted(
                {
                    h.resource_id
                    for h in self.hints
                    if h.privacy_request is None
                    and h.resource_kind == kind
                    and h.shop_domain == shop_domain
                    and h.resource_id is not None
                    and h.topic != "customers/delete"
                }
            )
        )

    def privacy_requests(self) -> tuple[Hint, ...]:
        """The page's compliance requests (from Shopify or the command line), in order."""
        return tuple(h for h in self.hints if h.privacy_request is not None)


def _hint(row: Any) -> Hint:
    payload = decode_body(row.body) or {}
    return Hint(
        position=int(row.position),
        shop_domain=row.shop_domain,
        topic=row.topic,
        resource_kind=row.resource_kind,
        resource_id=None if row.resource_id is None else int(row.resource_id),
        origin=row.origin,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        triggered_at=row.triggered_at,
        privacy_request=privacy_request_from_payload(row.topic, row.shop_domain, payload),
        received_at=row.received_at,
    )


def read_hints(url: str, after_position: int, limit: int = DEFAULT_LIMIT) -> WebhookHints:
    """The received deliveries after ``after_position``, at most ``limit`` queue rows.

    The caller keeps ``position`` in its STATE and passes it back next time; it should
    store the new position only once the destination has committed what the hints led to,
    so a crash in between reads the same page again (the hints are idempotent re-fetches).

    Raises:
        QueueNotFoundError: the database holds no queue table.
        ValueError: a negative position or a limit below 1.
    """
    if after_position < 0 or limit < 1:
        raise ValueError("after_position must be >= 0 and limit >= 1")
    queue = WebhookQueue(url, create=False)
    try:
        rows = queue.rows_after(after_position, limit)
    finally:
        queue.dispose()
    hints = tuple(_hint(row) for row in rows if row.state == State.RECEIVED.value)
    return WebhookHints(
        position=int(rows[-1].position) if rows else after_position,
        hints=hints,
        ignored=len(rows) - len(hints),
        more=len(rows) == limit,
    )
