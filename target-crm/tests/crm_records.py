"""A small builder of Singer messages valid per docs/record-contract.md, for target-crm tests."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from target_crm.target import TargetCRM

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "tap-shopify-history" / "tap_shopify_history" / "schemas"
SHOP = "demo-store.myshopify.com"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": currency},
    }


def schema_for(stream: str) -> dict[str, Any]:
    path = SCHEMAS / f"{stream}.json"
    if stream == "sync_manifest":
        return {"type": "object", "properties": {}}
    if path.exists():
        return json.loads(path.read_text())
    return {
        "type": "object",
        "properties": {"shop_domain": {"type": "string"}, "id": {"type": "integer"}},
    }


def customer(cid: int, *, shop: str = SHOP, at: datetime = T0, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "shop_domain": shop,
        "id": cid,
        "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
        "email": f"customer{cid}@example.com",
        "phone": None,
        "first_name": f"First{cid}",
        "last_name": f"Last{cid}",
        "display_name": f"First{cid} Last{cid}",
        "default_address": {
            "city": "Lyon",
            "province": "Rhone",
            "province_code": "69",
            "country": "France",
            "country_code": "FR",
            "zip": "69001",
        },
        "number_of_orders": 0,
        "amount_spent": {"amount": "0.00", "currency_code": "USD"},
        "email_marketing_consent": {
            "state": "SUBSCRIBED",
            "opt_in_level": "SINGLE_OPT_IN",
            "consent_updated_at": iso(at),
        },
        "sms_marketing_consent": None,
        "tags": [],
        "state": "ENABLED",
        "verified_email": True,
        "note": None,
        "created_at": iso(at),
        "updated_at": iso(at),
        "metafields": [],
    }
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
    record: dict[str, Any] = {
        "shop_domain": shop,
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": f"#{oid}",
        "created_at": iso(at),
        "processed_at": iso(at),
        "updated_at": iso(updated or at),
        "cancelled_at": iso(cancelled_at) if cancelled_at else None,
        "closed_at": None,
        "cancel_reason": "CUSTOMER" if cancelled_at else None,
        "test": False,
        "customer_id": customer_id,
        "email": f"customer{customer_id}@example.com" if customer_id else "guest@example.com",
        "phone": None,
        "currency_code": "USD",
        "presentment_currency_code": "USD",
        "total_price_set": money(total),
        "subtotal_price_set": money(total),
        "total_tax_set": money("0.00"),
        "total_discounts_set": money("0.00"),
        "total_shipping_price_set": money("0.00"),
        "current_total_price_set": money(current),
        "current_subtotal_price_set": money(current),
        "current_total_tax_set": money("0.00"),
        "current_total_discounts_set": money("0.00"),
        "total_refunded_set": money(refunded_text),
        "financial_status": "REFUNDED"
        if refunded_text == total
        else ("PARTIALLY_REFUNDED" if refunds else "PAID"),
        "fulfillment_status": "UNFULFILLED",
        "line_items": [
            {
                "id": oid * 10,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{oid * 10}",
                "sku": "SKU-1",
                "title": "Widget",
                "name": "Widget",
                "quantity": 1,
                "current_quantity": 1,
                "vendor": "Acme",
                "product_id": 1,
                "variant_id": 2,
                "original_unit_price_set": money(total),
                "discounted_unit_price_set": money(total),
                "original_total_set": money(total),
                "discounted_total_set": money(total),
            }
        ],
        "refunds": [
            {
                "id": rid,
                "admin_graphql_api_id": f"gid://shopify/Refund/{rid}",
                "created_at": iso(rat),
                "note": None,
                "total_refunded_set": money(amount),
                "refund_line_items": [],
            }
            for rid, amount, rat in refunds or []
        ],
        "tags": [],
        "source_name": "web",
    }
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
            msg = {
                "type": "SCHEMA",
                "stream": stream,
                "schema": schema_for(stream),
                "key_properties": (
                    ["shop_domain", "run_id", "stream", "part"]
                    if stream == "sync_manifest"
                    else ["shop_domain", "id"]
                ),
            }
            self.lines.append(json.dumps(msg))

    def _count(self, shop: Any, stream: str) -> None:
        key = (str(shop), stream)
        self.counts[key] = self.counts.get(key, 0) + 1

    def record(self, stream: str, record: dict[str, Any]) -> Feed:
        self._schema(stream)
        self._count(record.get("shop_domain"), stream)
        self.lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
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
            rec = {
                "shop_domain": shop,
                "id": cid,
                "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
                "updated_at": iso(T0),
            }
            self.lines.append(
                json.dumps(
                    {
                        "type": "RECORD",
                        "stream": "customer_roster",
                        "record": rec,
                        "version": version,
                    }
                )
            )
        self.lines.append(
            json.dumps(
                {"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": version}
            )
        )
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
            record = {
                "shop_domain": shop,
                "run_id": run_id,
                "stream": stream,
                "part": "window",
                "selection": "",
                "window_start": None
                if stream == "customer_roster"
                else iso(T0 - timedelta(days=365)),
                "window_end": None if stream == "customer_roster" else iso(end),
                "shopify_count_before": emitted,
                "shopify_count_after": emitted,
                "emitted": emitted,
                "excluded": {},
                "started_at": iso(end),
                "finished_at": iso(end),
            }
            record.update(over.get(stream, {}))
            self.record("sync_manifest", record)
        return self

    def state(self, value: dict[str, Any]) -> Feed:
        self.lines.append(json.dumps({"type": "STATE", "value": value}))
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
