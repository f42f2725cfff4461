"""MoEngage adapter: bulk transition of customer and event elements (README "MoEngage")."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy.engine import Connection
from target_runtime.delivery.items import (
    OUTSIDE_RETENTION,
    REJECTED,
    SENT,
    SKIPPED,
    Item,
    OutboxRow,
    pack,
)

from target_crm.delivery import common, erasure
from target_crm.delivery.erasure import ERASURE

MAX_REQUEST_BYTES = 100_000  # "100 KB" read strictly
USERS_PER_MINUTE = 10_000
EVENTS_PER_MINUTE = 30_000
# Merge User API (`POST /v1/customer/merge`): "1000 user updates per minute"; at least two
# hours between a user id's change and the merge that folds the old user into the new one.
MERGES_PER_MINUTE = 1_000
MERGE_DELAY_SECONDS = 7_200.0
MERGES_PER_REQUEST = 100
# Delete User API (`POST /v1/customer/delete`): one user per request, 5,000 requests a minute.
DELETES_PER_MINUTE = 5_000
# customer_id values MoEngage drops silently (developers.moengage.com 28828128904468).
FORBIDDEN_IDS = frozenset(
    [
        "unknown",
        "guest",
        "null",
        "0",
        "1",
        "2",
        "-1",
        "-2",
        "true",
        "false",
        "user_attribute_unique_id",
        "(empty)",
        "na",
        "n/a",
        "dummy_seller_code",
        "user_id",
        "id",
        "customer_id",
        "uid",
        "userid",
        "none",
    ]
) | {'""', ""}
_ENVELOPE = b'{"type":"transition","elements":[]}'
_MERGE_ENVELOPE = b'{"merge_data":[]}'
MERGE = "merge"  # the outbox entity and the item group of user merges


def moengage_host(data_center: str) -> str:
    """`https://api-{dc}.moengage.com` for a data centre such as `01`."""
    return f"https://api-{data_center.strip().zfill(2)}.moengage.com"


class MoEngageAdapter:
    """Maps contacts to `customer` elements and events to `event` elements."""

    name = "moengage"
    feedback_wait_seconds = 0.0  # no per-record feedback to wait for

    def __init__(
        self,
        *,
        workspace_id: str,
        api_key: str,
        base_url: str,
        identifier: str,
        resend_in_doubt: bool,
        retention_days: int | None,
        historical_attribute: str = "historical",
        merge_users: bool = False,
        merge_delay_seconds: float = MERGE_DELAY_SECONDS,
    ) -> None:
        """Keep the credentials (never logged) and the mapping settings."""
        self.workspace_id, self._api_key = workspace_id, api_key
        self.url = f"{base_url.rstrip('/')}/v1/transition/{workspace_id}"
        self.merge_url = f"{base_url.rstrip('/')}/v1/customer/merge?app_id={workspace_id}"
        self.delete_url = f"{base_url.rstrip('/')}/v1/customer/delete?app_id={workspace_id}"
        self.identifier, self.resend_in_doubt = identifier, resend_in_doubt
        self.retention_days = retention_days
        self.historical_attribute = historical_attribute
        self.merge_delay_seconds = merge_delay_seconds if merge_users else None
        self.windows = {
            "users": (USERS_PER_MINUTE, 60.0),
            "events": (EVENTS_PER_MINUTE, 60.0),
            "merges": (MERGES_PER_MINUTE, 60.0),
            "deletes": (DELETES_PER_MINUTE, 60.0),
        }

    def customer_id(self, contact: Any) -> str | None:
        """The MoEngage user id of a contact, per the `identifier` setting."""
        if self.identifier == "phone":
            return contact.phone_normalized or contact.phone
        if self.identifier == "shopify_id":
            return str(contact.customer_id)
        return contact.email_normalized or contact.email

    def build(self, conn: Connection, rows: Sequence[OutboxRow], now: datetime) -> list[Item]:
        """Elements for the pending rows, or the local reason a row is not sent."""
        events = common.load_events(conn, rows)
        keys = [common.contact_key(r) for r in rows if r.entity == "contact"]
        keys += [(e.shop_domain, e.customer_id) for e in events.values()]
        contacts = common.load_contacts(conn, keys)
        merges = common.load_merges(conn, self.name, [r for r in rows if r.entity == MERGE])
        erasures = erasure.load_erasures(
            conn, self.name, [r.entity_key for r in rows if r.entity == ERASURE]
        )
        redacted = erasure.redacted_contacts(conn, keys)
        items = []
        for r in rows:
            if r.entity == ERASURE:
                items.append(self._erasure(r, erasures.get(r.entity_key)))
            elif r.entity == MERGE:
                items.append(self._merge(r, merges.get(r.entity_key)))
            elif r.entity == "contact":
                key = common.contact_key(r)
                items.append(
                    Item(r, outcome=SKIPPED, reason="redacted")
                    if key in redacted
                    else self._contact(r, contacts.get(key))
                )
            else:
                event = events.get(r.entity_key)
                owner = None if event is None else (event.shop_domain, event.customer_id)
                items.append(
                    Item(r, outcome=SKIPPED, reason="redacted")
                    if owner in redacted
                    else self._event(r, event, contacts, now)
                )
        return items

    def _erasure(self, row: OutboxRow, queued: Any) -> Item:
        if queued is None or queued.identity_value is None:
            return Item(row, outcome=SKIPPED, reason="erasure not in the store")
        payload = {"identity_type": "customer_id", "identity_value": queued.identity_value}
        return Item(row, payload=payload, group=ERASURE, units={"deletes": 1})

    def _merge(self, row: OutboxRow, merge: Any) -> Item:
        if merge is None:
            return Item(row, outcome=SKIPPED, reason="merge not in the store")
        if self.merge_delay_seconds is None:
            return Item(row, outcome=SKIPPED, reason="moengage_merge_users is off")
        payload = {"merged_user": merge.merged_user, "retained_user": merge.retained_user}
        return Item(row, payload=payload, group=MERGE, units={"merges": 1})

    def _refused(self, row: OutboxRow, uid: str | None) -> Item | None:
        if uid is None:
            return Item(row, outcome=SKIPPED, reason=f"no {self.identifier}: no MoEngage user id")
        if uid.strip().lower() in FORBIDDEN_IDS:
            return Item(row, outcome=REJECTED, reason=f"forbidden customer_id '{uid}'")
        return None

    def _contact(self, row: OutboxRow, contact: Any) -> Item:
        if contact is None or contact.status != "active":
            return Item(row, outcome=SKIPPED, reason="contact not active (merged or deleted)")
        uid = self.customer_id(contact)
        refused = self._refused(row, uid)
        if refused is not None:
            return refused
        element = {
            "type": "customer",
            "customer_id": uid,
            "attributes": customer_attributes(contact),
        }
        item = Item(row, payload=element, group="", units={"users": 1}, identity=uid)
        if not common.needs_send(row, item.digest):
            return Item(row, outcome=SENT, reason="unchanged since last sent")
        return item

    def _event(
        self, row: OutboxRow, event: Any, contacts: Mapping[Any, Any], now: datetime
    ) -> Item:
        if event is None:
            return Item(row, outcome=SKIPPED, reason="event not in the store")
        contact = contacts.get((event.shop_domain, event.customer_id))
        uid = self.customer_id(contact) if contact is not None else None
        refused = self._refused(row, uid)
        if refused is not None:
            return refused
        if event.occurred_at > now:
            return Item(
                row, outcome=REJECTED, reason=f"future-dated event: {event.occurred_at.isoformat()}"
            )
        if self.retention_days is not None and event.occurred_at < now - timedelta(
            days=self.retention_days
        ):
            return Item(
                row,
                outcome=OUTSIDE_RETENTION,
                reason=f"older than moengage_retention_days={self.retention_days}",
            )
        attributes = {
            **event_attributes(event.properties),
            self.historical_attribute: not event.triggers_automations,
        }
        action = {
            "action": event.name,
            "attributes": attributes,
            "platform": "unknown",
            "current_time": int(event.occurred_at.timestamp()),
        }
        element = {"type": "event", "customer_id": uid, "actions": [action]}
        return Item(row, payload=element, units={"events": 1})

    def pack(self, items: Sequence[Item]) -> list[list[Item]]:
        """Bulk calls of at most 100,000 bytes (no item-count limit), then merge calls."""
        bulk = [i for i in items if i.group not in (MERGE, ERASURE)]
        merges = [i for i in items if i.group == MERGE]
        # One user per Delete User call.
        deletes = [[i] for i in items if i.group == ERASURE]
        return (
            deletes
            + pack(bulk, max_items=10_000, max_bytes=MAX_REQUEST_BYTES, overhead=len(_ENVELOPE))
            + pack(
                merges,
                max_items=MERGES_PER_REQUEST,
                max_bytes=MAX_REQUEST_BYTES,
                overhead=len(_MERGE_ENVELOPE),
            )
        )

    def request(self, items: Sequence[Item]) -> tuple[str, dict[str, str], bytes]:
        """The bulk call (or a merge call); Basic auth `workspace_id:api_key` plus `MOE-APPKEY`."""
        token = base64.b64encode(f"{self.workspace_id}:{self._api_key}".encode()).decode()
        headers = {
            "Authorization": f"Basic {token}",
            "MOE-APPKEY": self.workspace_id,
            "Content-Type": "application/json",
        }
        joined = b",".join(i.encoded for i in items)
        if items and items[0].group == ERASURE:
            return self.delete_url, headers, items[0].encoded
        if items and items[0].group == MERGE:
            return self.merge_url, headers, b'{"merge_data":[' + joined + b"]}"
        body = b'{"type":"transition","elements":[' + joined + b"]}"
        return self.url, headers, body

    def feedback(self, session: requests.Session) -> list[tuple[str, str]]:
        """MoEngage gives no per-record feedback."""
        return []


def customer_attributes(contact: Any) -> dict[str, Any]:
    """MoEngage user attributes of a contact (README "MoEngage mapping")."""
    attrs: dict[str, Any] = {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "mobile": contact.phone_normalized or contact.phone,
        "city": contact.city,
        "country": contact.country,
        "state": contact.province,
        "shopify_customer_id": str(contact.customer_id),
        "accepts_marketing": bool(contact.accepts_email_marketing),
        "accepts_sms_marketing": bool(contact.accepts_sms_marketing),
        "order_count": int(contact.order_count),
        "lifetime_value": float(contact.lifetime_value),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def event_attributes(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Event attributes: the order's id, name, totals (numbers), status and items."""
    attrs = dict(properties)
    for key, value in list(attrs.items()):
        if (
            key.endswith(("_price", "_tax", "_discounts", "_refunded", "_amount"))
            and value is not None
        ):
            attrs[key] = float(value)
    items = attrs.pop("line_items", None) or []
    attrs["item_count"] = len(items)
    attrs["product_titles"] = [li.get("title") for li in items if li.get("title")]
    attrs["skus"] = [li.get("sku") for li in items if li.get("sku")]
    return attrs
