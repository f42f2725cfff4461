"""Singer messages shaped exactly like tap-shopify-history's output, for target tests.

The schemas are read from the tap's package, so a target's contract tests break when the
tap's record contract changes under them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tap_shopify_history.schemas import schema_path

KEY_PROPERTIES = ["shop_domain", "id"]
STREAMS = ("customers", "orders", "customer_roster")


def stream_schema(stream: str) -> dict[str, Any]:
    """The tap's JSON Schema of one stream."""
    schema: dict[str, Any] = json.loads(schema_path(stream).read_text())
    return schema


def iso(moment: datetime) -> str:
    """A time in the contract's format: ISO 8601, UTC, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money_bag(amount: Decimal | str, currency: str = "USD") -> dict[str, Any]:
    """A MoneyBag with the same amount in shop and presentment money."""
    value = str(Decimal(amount).quantize(Decimal("0.01")))
    return {
        "shop_money": {"amount": value, "currency_code": currency},
        "presentment_money": {"amount": value, "currency_code": currency},
    }


@dataclass
class SingerStore:
    """Builds customers, orders and rosters as the tap would emit them for one shop."""

    shop_domain: str = "contract-store.myshopify.com"
    now: datetime = field(default_factory=lambda: datetime(2026, 6, 1, 12, tzinfo=UTC))
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)

    def customer(self, customer_id: int, **overrides: Any) -> dict[str, Any]:
        """Add (or replace) a customer record; ``overrides`` set any contract field."""
        created = self.now - timedelta(days=400 - customer_id % 300)
        record: dict[str, Any] = {
            "shop_domain": self.shop_domain,
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": f"customer{customer_id}@example.com",
            "phone": f"+1555{customer_id:07d}",
            "first_name": f"First{customer_id}",
            "last_name": f"Last{customer_id}",
            "display_name": f"First{customer_id} Last{customer_id}",
            "default_address": {
                "city": "Ottawa",
                "province": "Ontario",
                "province_code": "ON",
                "country": "Canada",
                "country_code": "CA",
                "zip": "K1A 0B1",
            },
            "number_of_orders": 0,
            "amount_spent": {"amount": "0.00", "currency_code": "USD"},
            "email_marketing_consent": {
                "state": "SUBSCRIBED",
                "opt_in_level": "SINGLE_OPT_IN",
                "consent_updated_at": iso(created),
            },
            "sms_marketing_consent": None,
            "tags": [],
            "state": "ENABLED",
            "verified_email": True,
            "note": None,
            "created_at": iso(created),
            "updated_at": iso(created + timedelta(days=1)),
            "metafields": [],
        }
        record.update(overrides)
        self.customers[customer_id] = record
        return record

    def order(
        self, order_id: int, customer_id: int | None, total: str = "100.00", **overrides: Any
    ) -> dict[str, Any]:
        """Add (or replace) a paid order with one line item worth ``total``."""
        created = self.now - timedelta(days=200 - order_id % 150, hours=order_id % 24)
        amount = Decimal(total)
        record: dict[str, Any] = {
            "shop_domain": self.shop_domain,
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{order_id}",
            "created_at": iso(created),
            "processed_at": iso(created),
            "updated_at": iso(created + timedelta(minutes=5)),
            "cancelled_at": None,
            "closed_at": None,
            "cancel_reason": None,
            "test": False,
            "customer_id": customer_id,
            "email": None if customer_id is None else f"customer{customer_id}@example.com",
            "phone": None,
            "currency_code": "USD",
            "presentment_currency_code": "USD",
            "total_price_set": money_bag(amount),
            "subtotal_price_set": money_bag(amount),
            "total_tax_set": money_bag("0"),
            "total_discounts_set": money_bag("0"),
            "total_shipping_price_set": money_bag("0"),
            "current_total_price_set": money_bag(amount),
            "current_subtotal_price_set": money_bag(amount),
            "current_total_tax_set": money_bag("0"),
            "current_total_discounts_set": money_bag("0"),
            "total_refunded_set": money_bag("0"),
            "financial_status": "PAID",
            "fulfillment_status": "FULFILLED",
            "line_items": [self._line_item(order_id, amount)],
            "refunds": [],
            "tags": [],
            "source_name": "web",
        }
        record.update(overrides)
        self.orders[order_id] = record
        return record

    @staticmethod
    def _line_item(order_id: int, amount: Decimal) -> dict[str, Any]:
        line_id = order_id * 10 + 1
        return {
            "id": line_id,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
            "sku": f"SKU-{order_id % 17}",
            "title": "Widget",
            "name": "Widget",
            "quantity": 1,
            "current_quantity": 1,
            "vendor": "Acme",
            "product_id": 500 + order_id % 17,
            "variant_id": 900 + order_id % 17,
            "original_unit_price_set": money_bag(amount),
            "discounted_unit_price_set": money_bag(amount),
            "original_total_set": money_bag(amount),
            "discounted_total_set": money_bag(amount),
        }

    def refund(self, order_id: int, refund_id: int, amount: str) -> dict[str, Any]:
        """Refund part of an order: adds the refund and moves the order's current totals."""
        order = self.orders[order_id]
        refunded = Decimal(amount)
        order["refunds"].append(
            {
                "id": refund_id,
                "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
                "created_at": iso(self.now),
                "note": None,
                "total_refunded_set": money_bag(refunded),
                "refund_line_items": [],
            }
        )
        total_refunded = sum(
            Decimal(r["total_refunded_set"]["shop_money"]["amount"]) for r in order["refunds"]
        )
        remaining = Decimal(order["total_price_set"]["shop_money"]["amount"]) - total_refunded
        order["total_refunded_set"] = money_bag(total_refunded)
        order["current_total_price_set"] = money_bag(remaining)
        order["current_subtotal_price_set"] = money_bag(remaining)
        order["financial_status"] = "REFUNDED" if remaining <= 0 else "PARTIALLY_REFUNDED"
        order["updated_at"] = iso(self.now)
        return order

    def messages(
        self, roster_version: int | None = None, roster_ids: list[int] | None = None
    ) -> list[dict[str, Any]]:
        """SCHEMA, RECORD and STATE messages in the tap's stream order.

        With ``roster_version`` the ``customer_roster`` stream follows, listing
        ``roster_ids`` (all customers by default) and ending in ACTIVATE_VERSION.
        """
        output: list[dict[str, Any]] = []
        for stream, records in (("customers", self.customers), ("orders", self.orders)):
            output.append(_schema_message(stream))
            output.extend(_record_message(stream, r) for r in records.values())
            output.append(
                {
                    "type": "STATE",
                    "value": {
                        "bookmarks": {
                            stream: {
                                "replication_key_value": max(
                                    (r["updated_at"] for r in records.values()), default=None
                                )
                            }
                        }
                    },
                }
            )
        if roster_version is not None:
            ids = sorted(self.customers) if roster_ids is None else roster_ids
            output.append(_schema_message("customer_roster"))
            output.append(
                {"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": roster_version}
            )
            for customer_id in ids:
                record = {
                    "shop_domain": self.shop_domain,
                    "id": customer_id,
                    "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                    "updated_at": self.customers.get(customer_id, {}).get("updated_at"),
                }
                output.append(
                    {**_record_message("customer_roster", record), "version": roster_version}
                )
            output.append(
                {"type": "ACTIVATE_VERSION", "stream": "customer_roster", "version": roster_version}
            )
            output.append({"type": "STATE", "value": {"roster_version": roster_version}})
        return output


def _schema_message(stream: str) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": stream_schema(stream),
        "key_properties": KEY_PROPERTIES,
        **({"bookmark_properties": ["updated_at"]} if stream != "customer_roster" else {}),
    }


def _record_message(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record}


def to_lines(messages: list[dict[str, Any]]) -> str:
    """Messages as the JSON lines a target reads on stdin."""
    return "".join(json.dumps(m) + "\n" for m in messages)


#: The ``sync_manifest`` schema used when the tap's package does not ship one yet.
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "shop_domain": {"type": "string"},
        "run_id": {"type": "string"},
        "stream": {"type": "string"},
        "part": {"type": "string"},
        "selection": {"type": "string"},
        "window_start": {"type": ["string", "null"], "format": "date-time"},
        "window_end": {"type": ["string", "null"], "format": "date-time"},
        "shopify_count_before": {"type": "integer"},
        "shopify_count_after": {"type": "integer"},
        "emitted": {"type": "integer"},
        "excluded": {"type": "object"},
        "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time"},
    },
}


def manifest_messages(
    messages: list[Any],
    shop_domain: str,
    now: datetime,
    run_id: str = "00000000-0000-4000-8000-00000000c0de",
) -> list[dict[str, Any]]:
    """The ``sync_manifest`` a complete tap run would end ``messages`` with.

    Each stream's ``emitted`` (and Shopify's count, before and after) is the number of RECORD
    messages of that stream among ``messages``; raw lines (bytes or str) are not counted.
    """
    try:
        schema = stream_schema("sync_manifest")
    except FileNotFoundError:
        schema = MANIFEST_SCHEMA
    counts: dict[str, int] = {}
    for message in messages:
        if isinstance(message, dict) and message.get("type") == "RECORD":
            counts[message["stream"]] = counts.get(message["stream"], 0) + 1
    output: list[dict[str, Any]] = [
        {
            "type": "SCHEMA",
            "stream": "sync_manifest",
            "schema": schema,
            "key_properties": ["shop_domain", "run_id", "stream", "part"],
        }
    ]
    for stream, emitted in counts.items():
        record = {
            "shop_domain": shop_domain,
            "run_id": run_id,
            "stream": stream,
            "part": "window",
            "selection": "",
            "window_start": None,
            "window_end": None if stream == "customer_roster" else iso(now),
            "shopify_count_before": emitted,
            "shopify_count_after": emitted,
            "emitted": emitted,
            "excluded": {},
            "started_at": iso(now),
            "finished_at": iso(now),
        }
        output.append(_record_message("sync_manifest", record))
    return output
