"""Ometria adapter: contact and order records to the Push API (README "Delivery")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from sqlalchemy.engine import Connection
from target_runtime.delivery.items import REJECTED, SENT, SKIPPED, Item, OutboxRow, pack

from target_crm.delivery import common, erasure
from target_crm.delivery.erasure import ERASURE

MAX_RECORDS = 100
MAX_RECORD_BYTES = 60_000  # "60 KB per record" read strictly
REQUESTS_PER_SECOND = 8
_ENVELOPE = b"[]"

# Shopify email consent states -> Ometria marketing_optin. Only an explicit Shopify
# subscription is an opt-in; `@force_optin` is never sent, so an opt-out recorded in
# Ometria (preference centre, unsubscribe link) keeps winning over what we send.
_OPTED_OUT = frozenset({"UNSUBSCRIBED", "REDACTED", "INVALID"})


def marketing_optin(contact: Any) -> str:
    """`EXPLICITLY_OPTEDIN` only for a subscribed contact; opt-outs explicit; else unknown."""
    state = (contact.email_consent_state or "").upper()
    if state in _OPTED_OUT:
        return "EXPLICITLY_OPTEDOUT"
    if state == "SUBSCRIBED" and contact.accepts_email_marketing:
        return "EXPLICITLY_OPTEDIN"
    # Shopify's "never subscribed" or a pending double opt-in is no decision either way:
    # Ometria keeps whatever it already holds.
    return "NOT_SPECIFIED"


def contact_record(contact: Any, collection: str) -> dict[str, Any]:
    """The contact listing of one CRM contact (ids carry no PII: the Shopify id)."""
    record: dict[str, Any] = {
        "@type": "contact",
        "@collection": collection,
        "id": str(contact.customer_id),
        "customer_id": str(contact.customer_id),
        "email": contact.email,
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "phone_number": contact.phone_normalized or contact.phone,
        "country_id": contact.country,
        "marketing_optin": marketing_optin(contact),
        "properties": {
            "city": contact.city,
            "state": contact.province,
            "shopify_customer_id": str(contact.customer_id),
            "accepts_marketing": bool(contact.accepts_email_marketing),
            "order_count": int(contact.order_count),
            "lifetime_value": float(contact.lifetime_value),
        },
    }
    return {k: v for k, v in record.items() if v is not None}


def _money(value: Any) -> float:
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0.0


def order_status(kind: str, props: Mapping[str, Any]) -> tuple[str, bool]:
    """(status, is_valid) of the order as this event leaves it.

    A cancellation or a full refund invalidates the order (Ometria removes its revenue); a
    partial refund keeps it valid with `partial_refund`; otherwise paid is `complete`.
    """
    total, refunded = _money(props.get("total_price")), _money(props.get("total_refunded"))
    financial = str(props.get("financial_status") or "").upper()
    if kind == "order_cancelled" or props.get("cancel_reason") is not None:
        return "cancelled", False
    if financial == "REFUNDED" or (total > 0 and refunded >= total):
        return "refunded", False
    if refunded > 0 or financial == "PARTIALLY_REFUNDED":
        return "partial_refund", True
    if financial in {"PAID", ""}:
        return "complete", True
    return "pending", True


def _line(line: Mapping[str, Any]) -> dict[str, Any]:
    quantity = int(line.get("quantity") or 0)
    current = int(line.get("current_quantity", quantity) or 0)
    unit = _money(line.get("unit_price"))
    refunded_qty = max(quantity - current, 0)
    # Ometria keys its product catalogue by the product id; a line whose product was deleted
    # in Shopify (product_id null) falls back to the SKU, then to the line's own id.
    product_id = str(line.get("product_id") or line.get("sku") or line.get("id") or "")
    variant = line.get("variant_id")
    out: dict[str, Any] = {
        "product": {"id": product_id, "sku": line.get("sku"), "title": line.get("title")},
        "variant_id": str(variant) if variant is not None else None,
        "sku": line.get("sku"),
        "quantity": quantity,
        "unit_price": unit,
        "subtotal": round(unit * quantity, 2),
    }
    if refunded_qty:
        out["quantity_refunded"] = refunded_qty
        out["refunded"] = round(unit * refunded_qty, 2)
    out["product"] = {k: v for k, v in out["product"].items() if v is not None}
    return {k: v for k, v in out.items() if v is not None}


def order_record(event: Any, placed_at: datetime, contact: Any) -> dict[str, Any]:
    """The full order record as the event leaves it (Ometria upserts it by `id`)."""
    props = event.properties
    status, valid = order_status(event.kind, props)
    total = _money(props.get("total_price"))
    subtotal = _money(props.get("subtotal_price"))
    tax = _money(props.get("total_tax"))
    record: dict[str, Any] = {
        "@type": "order",
        "id": str(props.get("order_id") or event.order_id),
        # The order's own time, kept on refunds and cancellations.
        "timestamp": placed_at.astimezone(UTC).isoformat(),
        "status": status,
        "is_valid": valid,
        "currency": props.get("currency"),
        "subtotal": subtotal,
        "discount": _money(props.get("total_discounts")),
        # Shopify's total is subtotal (after discounts) + shipping + tax.
        "shipping": round(max(total - subtotal - tax, 0.0), 2),
        "tax": tax,
        "grand_total": total,
        "total_refunded": _money(props.get("total_refunded")),
        "customer": {"id": str(event.customer_id), "email": contact.email},
        "lineitems": [_line(li) for li in props.get("line_items") or []],
        "properties": {"shopify_order_name": props.get("name")},
    }
    if not contact.email:
        record["customer"].pop("email")
    return record


class OmetriaAdapter:
    """Maps contacts to `contact` records and order events to `order` records."""

    name = "ometria"
    # Records upsert by id: a request whose answer was lost is safe to send again.
    resend_in_doubt = True
    # A contact's Ometria id is its Shopify customer id, which never changes: no merges.
    merge_delay_seconds = None

    def __init__(
        self, *, api_key: str, base_url: str, collection: str, feedback_wait_seconds: float = 2.0
    ) -> None:
        """Keep the key (never logged) and the contacts' collection."""
        self._api_key = api_key
        # Ometria validates after answering "OK": give it this long before reading errors.
        self.feedback_wait_seconds = feedback_wait_seconds
        self.url = f"{base_url.rstrip('/')}/v2/push"
        self.erasure_url = f"{base_url.rstrip('/')}/v2/data-deletion-requests"
        self.collection = collection
        # Data-deletion requests: "a maximum of six requests per minute", one email each.
        self.windows = {"requests": (REQUESTS_PER_SECOND, 1.0), "erasures": (6, 60.0)}

    def _headers(self) -> dict[str, str]:
        return {"X-Ometria-Auth": self._api_key, "Content-Type": "application/json"}

    def build(self, conn: Connection, rows: Sequence[OutboxRow], now: datetime) -> list[Item]:
        """Records for the pending rows, or the local reason a row is not sent."""
        events = common.load_events(conn, rows)
        keys = [common.contact_key(r) for r in rows if r.entity == "contact"]
        keys += [(e.shop_domain, e.customer_id) for e in events.values()]
        contacts = common.load_contacts(conn, keys)
        orders = common.load_order_times(
            conn, [(e.shop_domain, e.order_id) for e in events.values() if e.order_id]
        )
        erasures = erasure.load_erasures(
            conn, self.name, [r.entity_key for r in rows if r.entity == ERASURE]
        )
        redacted = erasure.redacted_contacts(conn, keys)
        items = []
        for row in rows:
            event = events.get(row.entity_key) if row.entity == "event" else None
            owner = (
                common.contact_key(row)
                if row.entity == "contact"
                else (event.shop_domain, event.customer_id)
                if event is not None
                else None
            )
            if row.entity == ERASURE:
                item = self._erasure(row, erasures.get(row.entity_key))
            elif owner in redacted:
                item = Item(row, outcome=SKIPPED, reason="redacted")
            elif row.entity == "contact":
                item = self._contact(row, contacts.get(common.contact_key(row)))
            else:
                item = self._event(row, event, contacts, orders)
            items.append(_size_checked(item))
        return items

    def _erasure(self, row: OutboxRow, queued: Any) -> Item:
        if queued is None or queued.identity_value is None:
            return Item(row, outcome=SKIPPED, reason="erasure not in the store")
        payload = {
            "email": queued.identity_value,
            "comment": f"Shopify privacy request {queued.request_id}",
        }
        return Item(row, payload=payload, group=ERASURE, units={"erasures": 1})

    def _contact(self, row: OutboxRow, contact: Any) -> Item:
        if contact is None or contact.status != "active":
            return Item(row, outcome=SKIPPED, reason="contact not active (merged or deleted)")
        item = Item(row, payload=contact_record(contact, self.collection), group="contact")
        if not common.needs_send(row, item.digest):
            return Item(row, outcome=SENT, reason="unchanged since last sent")
        return item

    def _event(
        self,
        row: OutboxRow,
        event: Any,
        contacts: Mapping[Any, Any],
        orders: Mapping[Any, Any],
    ) -> Item:
        if event is None:
            return Item(row, outcome=SKIPPED, reason="event not in the store")
        if event.order_id is None:
            # Ometria learns of contacts from contact records; contact events add nothing.
            return Item(row, outcome=SKIPPED, reason="not an order event")
        contact = contacts.get((event.shop_domain, event.customer_id))
        if contact is None:
            return Item(row, outcome=SKIPPED, reason="contact not in the store")
        order = orders.get((event.shop_domain, event.order_id))
        placed = order.created_at if order is not None else event.occurred_at
        return Item(row, payload=order_record(event, placed, contact), group="order")

    def pack(self, items: Sequence[Item]) -> list[list[Item]]:
        """At most 100 records of one `@type` per request (no request byte limit)."""
        records = [i for i in items if i.group != ERASURE]
        ordered = sorted(records, key=lambda i: i.group != "contact")  # contacts first
        # One email per data-deletion request.
        deletions = [[i] for i in items if i.group == ERASURE]
        return deletions + pack(
            ordered, max_items=MAX_RECORDS, max_bytes=10**9, overhead=len(_ENVELOPE)
        )

    def request(self, items: Sequence[Item]) -> tuple[str, dict[str, str], bytes]:
        """The push call: a JSON array of records, `X-Ometria-Auth` (or a deletion request)."""
        if items and items[0].group == ERASURE:
            return self.erasure_url, self._headers(), items[0].encoded
        return self.url, self._headers(), b"[" + b",".join(i.encoded for i in items) + b"]"

    def feedback(self, session: requests.Session) -> list[tuple[str, str]]:
        """Ometria's latest record errors (`GET /v2/push/_errors`): (message, path)."""
        answer = session.get(f"{self.url}/_errors", headers=self._headers(), timeout=30)
        answer.raise_for_status()
        body = answer.json()
        entries = body if isinstance(body, list) else body.get("errors", body.get("data", []))
        return [
            (str(e.get("error_message", "")), str(e.get("error_path", "")))
            for e in entries
            if isinstance(e, Mapping)
        ]


def _size_checked(item: Item) -> Item:
    """A record over 60 KB would be refused by Ometria: reject it here, with its size."""
    if item.payload is None:
        return item
    size = len(item.encoded)
    if size > MAX_RECORD_BYTES:
        reason = f"record too large: {size} bytes > {MAX_RECORD_BYTES} (Ometria's 60 KB limit)"
        return Item(item.row, outcome=REJECTED, reason=reason)
    return item
