"""What an adapter turns outbox rows into, and the packer that fills requests to the limits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# Outbox states: a row moves pending -> sending -> sent, or ends rejected / skipped /
# outside_retention with a reason, or in_doubt after a crash or a connection lost after the
# request went out.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
REJECTED = "rejected"
SKIPPED = "skipped"
OUTSIDE_RETENTION = "outside_retention"
IN_DOUBT = "in_doubt"
# A row that must not go out before a time (e.g. a user merge some hours after the new user
# id was first sent); the target's outbox makes it pending once due.
SCHEDULED = "scheduled"


@dataclass(frozen=True)
class OutboxRow:
    """One pending outbox row."""

    entity: str
    entity_key: str
    shop_domain: str
    attempts: int
    sent_hash: str | None = None


@dataclass(frozen=True)
class Item:
    """An outbox row made ready: a payload to send, or a local outcome with its reason."""

    row: OutboxRow
    payload: Mapping[str, Any] | None = None
    group: str = ""
    outcome: str | None = None  # a final state decided locally (no request)
    reason: str | None = None
    units: Mapping[str, int] = field(default_factory=dict)
    # The platform's user id this contact is sent under (recorded once the request is sent).
    identity: str | None = None

    @cached_property
    def encoded(self) -> bytes:
        """The payload as compact UTF-8 JSON (what its share of a request body weighs)."""
        return encode(self.payload)

    @cached_property
    def digest(self) -> str:
        """Hash of the payload: an unchanged contact is not sent twice."""
        return hashlib.sha256(self.encoded).hexdigest()[:32]


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON, as sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def pack(
    items: Iterable[Item], *, max_items: int, max_bytes: int, overhead: int
) -> list[list[Item]]:
    """Fill requests in order, each with one group, at most max_items and max_bytes.

    Args:
        items: Sendable items, in delivery order.
        max_items: Most items one request may carry.
        max_bytes: Most bytes one request body may weigh.
        overhead: Bytes of the body's envelope around the items (brackets, keys).

    Returns:
        The requests' items; an item too large alone still gets a request of its own
        (the adapter refuses such items before packing).
    """
    batches: list[list[Item]] = []
    current: list[Item] = []
    size = overhead
    for item in items:
        weight = len(item.encoded) + 1  # the comma between items
        full = len(current) >= max_items or size + weight > max_bytes
        if current and (full or item.group != current[0].group):
            batches.append(current)
            current, size = [], overhead
        current.append(item)
        size += weight
    if current:
        batches.append(current)
    return batches
