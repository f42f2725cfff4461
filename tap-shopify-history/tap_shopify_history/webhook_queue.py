"""Reading the webhook queue for one run: what to re-fetch, which privacy requests, where to.

The run reads every page after the position kept in STATE (``bookmarks.webhook_queue``), up
to ``MAX_PAGES`` pages of ``webhook_batch_limit`` rows, for the configured shop only. The new
position goes into STATE after the records the hints led to (see the README's rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopify_webhooks import Hint, read_hints

from tap_shopify_history.privacy import PrivacyHint

STATE_KEY = "webhook_queue"
DEFAULT_BATCH_LIMIT = 500
# Pages one run reads at most; the rest waits for the next run (the position says where).
MAX_PAGES = 20
DELETE_TOPIC = "customers/delete"


@dataclass(frozen=True)
class QueueRead:
    """What one run read from the queue for its shop.

    Attributes:
        start: The position the run started after (from STATE).
        position: The position to keep once the run's records are emitted.
        customer_ids: Customers to re-fetch (created, updated or deleted), ascending.
        order_ids: Orders to re-fetch, ascending.
        deleted: Customer id -> its first ``customers/delete`` hint.
        privacy: The compliance requests, in queue order.
        rows: Queue rows read (any shop, ignored ones included).
        more: Whether the queue had more rows than this run read.
    """

    start: int
    position: int
    customer_ids: tuple[int, ...] = ()
    order_ids: tuple[int, ...] = ()
    deleted: Mapping[int, PrivacyHint] = field(default_factory=dict)
    privacy: tuple[PrivacyHint, ...] = ()
    rows: int = 0
    more: bool = False

    def hinted(self, kind: str) -> frozenset[int]:
        """The ids of one kind the queue announced this run.

        Args:
            kind: ``customers`` or ``orders``.

        Returns:
            The ids.
        """
        return frozenset(self.customer_ids if kind == "customers" else self.order_ids)


def position_from_state(state: Mapping[str, Any]) -> int:
    """The position kept in STATE (0 before the first run with the queue).

    Args:
        state: The tap's whole state.

    Returns:
        A position >= 0.
    """
    kept = ((state.get("bookmarks") or {}).get(STATE_KEY) or {}).get("position")
    return int(kept) if isinstance(kept, int) and kept >= 0 else 0


def read_queue(url: str, after: int, limit: int, shop_domain: str) -> QueueRead:
    """Read the queue after ``after`` for one shop.

    Args:
        url: The queue's database URL (never logged).
        after: The position to read after.
        limit: Rows per page.
        shop_domain: The shop this tap reads; other shops' rows are passed over.

    Returns:
        The run's read.
    """
    shop = shop_domain.lower()
    position, rows, more = after, 0, True
    hints: list[Hint] = []
    for _ in range(MAX_PAGES):
        page = read_hints(url, after_position=position, limit=limit)
        position, more = page.position, page.more
        rows += len(page.hints) + page.ignored
        hints.extend(h for h in page.hints if h.shop_domain.lower() == shop)
        if not page.more:
            break
    customers: set[int] = set()
    orders: set[int] = set()
    deleted: dict[int, PrivacyHint] = {}
    privacy: list[PrivacyHint] = []
    for hint in hints:
        if hint.privacy_request is not None:
            privacy.append(_privacy_hint(hint))
        elif hint.resource_id is None:
            continue
        elif hint.resource_kind == "customer":
            customers.add(hint.resource_id)
            if hint.topic == DELETE_TOPIC and hint.resource_id not in deleted:
                deleted[hint.resource_id] = _privacy_hint(hint)
        elif hint.resource_kind == "order":
            orders.add(hint.resource_id)
    return QueueRead(
        start=after,
        position=position,
        customer_ids=tuple(sorted(customers)),
        order_ids=tuple(sorted(orders)),
        deleted=deleted,
        privacy=tuple(privacy),
        rows=rows,
        more=more,
    )


def _privacy_hint(hint: Hint) -> PrivacyHint:
    request = hint.privacy_request
    return PrivacyHint(
        position=hint.position,
        shop_domain=hint.shop_domain,
        topic=hint.topic,
        origin=hint.origin,
        webhook_id=hint.webhook_id,
        triggered_at=hint.triggered_at,
        received_at=hint.received_at,
        customer_id=request.customer_id if request else hint.resource_id,
        email=request.email if request else None,
        phone=request.phone if request else None,
        order_ids=tuple(request.orders) if request else (),
        data_request_id=request.data_request_id if request else None,
    )
