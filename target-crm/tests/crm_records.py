"""target-crm's defaults over the shared Singer record builder (testkit.singer_messages)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from target_crm.target import TargetCRM
from testkit.singer_messages import (
    OrderMoney,
    activate_version_message,
    customer_record,
    iso,
    line_item_record,
    manifest_record,
    money_bag,
    order_record,
    record_message,
    refund_record,
    roster_record,
    schema_message,
    state_message,
    stream_schema,
)

SHOP = "demo-store.myshopify.com"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def money(amount: str, currency: str = "USD") -> dict[str, Any]:
    """A MoneyBag holding ``amount`` exactly as written."""
    return money_bag(amount, currency, places=None)


def schema_for(stream: str) -> dict[str, Any]:
    # The manifest's schema stays open here: some tests feed it rows the tap never writes.
    if stream == "sync_manifest":
        return {"type": "object", "properties": {}}
    try:
        return stream_schema(stream)
    except FileNotFoundError:
        return {
            "type": "object",
            "properties": {"shop_domain": {"type": "string"}, "id": {"type": "integer"}},
        }


def customer(cid: int, *, shop: str = SHOP, at: datetime = T0, **over: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "default_address": {
            "city": "Lyon",
            "province": "Rhone",
            "province_code": "69",
            "country": "France",
            "country_code": "FR",
            "zip": "69001",
        },
        "email_marketing_consent": {
            "state": "SUBSCRIBED",
            "opt_in_level": "SINGLE_OPT_IN",
            "consent_updated_at": iso(at),
        },
    }
    record = customer_record(cid, shop_domain=shop, created_at=iso(at), **defaults)
    record.update(over)
    return record


def order(
    oid: int,
    customer_id: int | None,
    *,
    shop: str = SHOP,
    at: datetime = T0,
    updated: datetime | None = None,
    total: str = "100.00",
    refunds: list[tuple[int, str, datetime]] | None = None,
    cancelled_at: datetime | None = None,
    **over: Any,
) -> dict[str, Any]:
    refunded = sum((float(a) for _, a, _ in refunds or []), 0.0)
    refunded_text = f"{refunded:.2f}"
    current = "0.00" if cancelled_at else f"{float(total) - refunded:.2f}"
    totals = OrderMoney(
        total=total,
        tax="0.00",
        discounts="0.00",
        shipping="0.00",
        refunded=refunded_text,
        current_total=current,
        current_subtotal=current,
    )
    line = line_item_record(oid * 10, total, sku="SKU-1", product_id=1, variant_id=2, places=None)
    defaults: dict[str, Any] = {
        "cancelled_at": iso(cancelled_at) if cancelled_at else None,
        "cancel_reason": "CUSTOMER" if cancelled_at else None,
        "email": f"customer{customer_id}@example.com" if customer_id else "guest@example.com",
        "financial_status": "REFUNDED"
        if refunded_text == total
        else ("PARTIALLY_REFUNDED" if refunds else "PAID"),
        "fulfillment_status": "UNFULFILLED",
        "line_items": [line],
        "refunds": [
            refund_record(rid, iso(rat), amount, places=None) for rid, amount, rat in refunds or []
        ],
    }
    record = order_record(
        oid,
        customer_id,
        shop_domain=shop,
        created_at=iso(at),
        updated_at=iso(updated or at),
        money=totals,
        places=None,
        **defaults,
    )
    record.update(over)
    return record


@dataclass
class Feed:
    """Singer lines: SCHEMA once per stream, then RECORD/STATE/ACTIVATE_VERSION in order."""

    lines: list[str] = field(default_factory=list)
    announced: set[str] = field(default_factory=set)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def _schema(self, stream: str) -> None:
        if stream not in self.announced:
            self.announced.add(stream)
            self.lines.append(json.dumps(schema_message(stream, schema_for(stream))))

    def _count(self, shop: Any, stream: str) -> None:
        key = (str(shop), stream)
        self.counts[key] = self.counts.get(key, 0) + 1

    def record(self, stream: str, record: dict[str, Any]) -> Feed:
        self._schema(stream)
        self._count(record.get("shop_domain"), stream)
        self.lines.append(json.dumps(record_message(stream, record)))
        return self

    def customers(self, *records: dict[str, Any]) -> Feed:
        for r in records:
            self.record("customers", r)
        return self

    def orders(self, *records: dict[str, Any]) -> Feed:
        for r in records:
            self.record("orders", r)
        return self

    def roster(self, ids: list[int], *, shop: str = SHOP, version: int = 1) -> Feed:
        self._schema("customer_roster")
        for cid in ids:
            self._count(shop, "customer_roster")
            rec = roster_record(cid, shop_domain=shop, updated_at=iso(T0))
            self.lines.append(json.dumps(record_message("customer_roster", rec, version)))
        self.lines.append(json.dumps(activate_version_message("customer_roster", version)))
        return self

    def manifest(
        self,
        *,
        shop: str = SHOP,
        streams: tuple[str, ...] = ("customers", "orders", "customer_roster"),
        window_end: datetime | None = None,
        run_id: str = "tap-run-1",
        **over: dict[str, Any],
    ) -> Feed:
        """The tap's closing `sync_manifest`: one `window` part per stream, counts = records fed.

        ``over`` maps a stream to fields that replace the computed ones (``emitted``,
        ``shopify_count_before``...).
        """
        end = window_end or (T0 + timedelta(hours=1))
        for stream in streams:
            emitted = self.counts.get((shop, stream), 0)
            record = manifest_record(
                stream,
                emitted,
                shop_domain=shop,
                run_id=run_id,
                finished_at=iso(end),
                window_start=None if stream == "customer_roster" else iso(T0 - timedelta(days=365)),
                window_end=None if stream == "customer_roster" else iso(end),
            )
            record.update(over.get(stream, {}))
            self.record("sync_manifest", record)
        return self

    def state(self, value: dict[str, Any]) -> Feed:
        self.lines.append(json.dumps(state_message(value)))
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def run_target(
    config: dict[str, Any], feed: Feed | str, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Run TargetCRM in-process on the feed; return the STATE values it printed."""
    target = TargetCRM(config=config)
    if now is not None:
        target.now = lambda: now
    out = io.StringIO()
    text = feed if isinstance(feed, str) else feed.text()
    with contextlib.redirect_stdout(out):
        target.listen(io.StringIO(text))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def later(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)
