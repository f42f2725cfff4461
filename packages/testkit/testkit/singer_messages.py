"""Singer messages shaped exactly like tap-shopify-history's output, for target tests.

The one record builder of the repository's tests: the targets' own helpers
(``target-crm/tests/crm_records.py``, ``target-loyalty/tests/loyalty_records.py``) call the
record and message functions here with their own defaults, so every test feeds the targets
records with the contract's field set.

The schemas are read from the tap's package, so a target's contract tests break when the
tap's record contract changes under them.

Example:
    >>> order = order_record(1001, 7, shop_domain="s.myshopify.com",
    ...                      created_at="2024-03-01T12:00:00Z", money=OrderMoney(total="20"))
    >>> record_message("orders", order)["record"]["total_price_set"]["shop_money"]
    {'amount': '20.00', 'currency_code': 'USD'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tap_shopify_history.schemas import schema_path

KEY_PROPERTIES = ["shop_domain", "id"]
MANIFEST_KEY_PROPERTIES = ["shop_domain", "run_id", "stream", "part"]
STREAMS = ("customers", "orders", "customer_roster")


def stream_schema(stream: str) -> dict[str, Any]:
    """The tap's JSON Schema of one stream."""
    schema: dict[str, Any] = json.loads(schema_path(stream).read_text())
    return schema


def iso(moment: datetime) -> str:
    """A time in the contract's format: ISO 8601, UTC, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Amount = Decimal | str


def money_bag(amount: Amount, currency: str = "USD", *, places: int | None = 2) -> dict[str, Any]:
    """A MoneyBag with the same amount in shop and presentment money.

    Args:
        amount: The amount, as a decimal string or ``Decimal``.
        currency: The ISO currency code.
        places: Decimal places to quantize to; None writes ``str(amount)`` as given (a test
            may want ``"0"`` or ``"12.5"`` on the wire).
    """
    value = (
        str(amount) if places is None else str(Decimal(amount).quantize(Decimal(1).scaleb(-places)))
    )
    return {
        "shop_money": {"amount": value, "currency_code": currency},
        "presentment_money": {"amount": value, "currency_code": currency},
    }


def customer_record(
    customer_id: int, *, shop_domain: str, created_at: str, **overrides: Any
) -> dict[str, Any]:
    """A ``customers`` record with every contract field; ``overrides`` set any of them.

    Defaults: no phone, no address, no consent, no tags; ``updated_at`` = ``created_at``.
    """
    record: dict[str, Any] = {
        "shop_domain": shop_domain,
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": f"customer{customer_id}@example.com",
        "phone": None,
        "first_name": f"First{customer_id}",
        "last_name": f"Last{customer_id}",
        "display_name": f"First{customer_id} Last{customer_id}",
        "default_address": None,
        "number_of_orders": 0,
        "amount_spent": {"amount": "0.00", "currency_code": "USD"},
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "tags": [],
        "state": "ENABLED",
        "verified_email": True,
        "note": None,
        "created_at": created_at,
        "updated_at": created_at,
        "metafields": [],
    }
    record.update(overrides)
    return record


def line_item_record(
    line_id: int,
    unit_price: Amount,
    *,
    sku: str,
    product_id: int,
    variant_id: int,
    places: int | None = 2,
) -> dict[str, Any]:
    """One line item, quantity 1, worth ``unit_price`` before and after discounts."""
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "sku": sku,
        "title": "Widget",
        "name": "Widget",
        "quantity": 1,
        "current_quantity": 1,
        "vendor": "Acme",
        "product_id": product_id,
        "variant_id": variant_id,
        "original_unit_price_set": money_bag(unit_price, places=places),
        "discounted_unit_price_set": money_bag(unit_price, places=places),
        "original_total_set": money_bag(unit_price, places=places),
        "discounted_total_set": money_bag(unit_price, places=places),
    }


def refund_record(
    refund_id: int,
    created_at: str,
    amount: Amount,
    *,
    refund_line_items: Iterable[Mapping[str, Any]] = (),
    places: int | None = 2,
) -> dict[str, Any]:
    """One refund of ``amount`` in all (``total_refunded_set``)."""
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "created_at": created_at,
        "note": None,
        "total_refunded_set": money_bag(amount, places=places),
        "refund_line_items": [dict(item) for item in refund_line_items],
    }


@dataclass(frozen=True)
class OrderMoney:
    """An order's money fields; the ``current_*`` ones default to the originals."""

    total: Amount
    subtotal: Amount | None = None
    tax: Amount = "0"
    discounts: Amount = "0"
    shipping: Amount = "0"
    refunded: Amount = "0"
    current_total: Amount | None = None
    current_subtotal: Amount | None = None
    current_tax: Amount | None = None
    current_discounts: Amount | None = None

    def fields(self, places: int | None) -> dict[str, Any]:
        """The ``*_set`` MoneyBags in the contract's field order."""
        subtotal = self.total if self.subtotal is None else self.subtotal

        def bag(amount: Amount | None, default: Amount) -> dict[str, Any]:
            return money_bag(default if amount is None else amount, places=places)

        return {
            "total_price_set": bag(self.total, self.total),
            "subtotal_price_set": bag(subtotal, subtotal),
            "total_tax_set": bag(self.tax, self.tax),
            "total_discounts_set": bag(self.discounts, self.discounts),
            "total_shipping_price_set": bag(self.shipping, self.shipping),
            "current_total_price_set": bag(self.current_total, self.total),
            "current_subtotal_price_set": bag(self.current_subtotal, subtotal),
            "current_total_tax_set": bag(self.current_tax, self.tax),
            "current_total_discounts_set": bag(self.current_discounts, self.discounts),
            "total_refunded_set": bag(self.refunded, self.refunded),
        }


def order_record(
    order_id: int,
    customer_id: int | None,
    *,
    shop_domain: str,
    created_at: str,
    money: OrderMoney,
    updated_at: str | None = None,
    places: int | None = 2,
    **overrides: Any,
) -> dict[str, Any]:
    """An ``orders`` record with every contract field: a paid, fulfilled web order.

    ``money`` gives the totals; ``overrides`` set any other field (``cancelled_at``,
    ``financial_status``, ``line_items``, ``refunds``...).
    """
    record: dict[str, Any] = {
        "shop_domain": shop_domain,
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id}",
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": updated_at or created_at,
        "cancelled_at": None,
        "closed_at": None,
        "cancel_reason": None,
        "test": False,
        "customer_id": customer_id,
        "email": None,
        "phone": None,
        "currency_code": "USD",
        "presentment_currency_code": "USD",
        **money.fields(places),
        "financial_status": "PAID",
        "fulfillment_status": "FULFILLED",
        "line_items": [],
        "refunds": [],
        "tags": [],
        "source_name": "web",
    }
    record.update(overrides)
    return record


def roster_record(customer_id: int, *, shop_domain: str, updated_at: str | None) -> dict[str, Any]:
    """A ``customer_roster`` record."""
    return {
        "shop_domain": shop_domain,
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "updated_at": updated_at,
    }


def manifest_record(
    stream: str,
    emitted: int,
    *,
    shop_domain: str,
    run_id: str,
    finished_at: str,
    window_start: str | None = None,
    window_end: str | None = None,
    before: int | None = None,
    after: int | None = None,
    excluded: Mapping[str, int] | None = None,
    part: str = "window",
) -> dict[str, Any]:
    """A ``sync_manifest`` record; Shopify's counts default to ``emitted`` plus excluded."""
    counted = emitted + sum((excluded or {}).values())
    return {
        "shop_domain": shop_domain,
        "run_id": run_id,
        "stream": stream,
        "part": part,
        "selection": "",
        "window_start": window_start,
        "window_end": window_end,
        "shopify_count_before": counted if before is None else before,
        "shopify_count_after": counted if after is None else after,
        "emitted": emitted,
        "excluded": dict(excluded or {}),
        "started_at": finished_at,
        "finished_at": finished_at,
    }


def schema_message(
    stream: str,
    schema: Mapping[str, Any] | None = None,
    key_properties: list[str] | None = None,
    bookmark_properties: list[str] | None = None,
) -> dict[str, Any]:
    """A SCHEMA message: the tap's schema and keys of ``stream`` unless given."""
    if key_properties is None:
        key_properties = MANIFEST_KEY_PROPERTIES if stream == "sync_manifest" else KEY_PROPERTIES
    message: dict[str, Any] = {
        "type": "SCHEMA",
        "stream": stream,
        "schema": stream_schema(stream) if schema is None else dict(schema),
        "key_properties": list(key_properties),
    }
    if bookmark_properties is not None:
        message["bookmark_properties"] = list(bookmark_properties)
    return message


def record_message(
    stream: str, record: Mapping[str, Any], version: int | None = None
) -> dict[str, Any]:
    """A RECORD message (with the table version for a full-table stream)."""
    message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": record}
    if version is not None:
        message["version"] = version
    return message


def state_message(value: Mapping[str, Any]) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def activate_version_message(stream: str, version: int) -> dict[str, Any]:
    """An ACTIVATE_VERSION message, as singer-sdk sends around a full-table stream."""
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


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
        defaults: dict[str, Any] = {
            "phone": f"+1555{customer_id:07d}",
            "default_address": {
                "city": "Ottawa",
                "province": "Ontario",
                "province_code": "ON",
                "country": "Canada",
                "country_code": "CA",
                "zip": "K1A 0B1",
            },
            "email_marketing_consent": {
                "state": "SUBSCRIBED",
                "opt_in_level": "SINGLE_OPT_IN",
                "consent_updated_at": iso(created),
            },
            "updated_at": iso(created + timedelta(days=1)),
        }
        record = customer_record(
            customer_id,
            shop_domain=self.shop_domain,
            created_at=iso(created),
            **defaults,
        )
        record.update(overrides)
        self.customers[customer_id] = record
        return record

    def order(
        self, order_id: int, customer_id: int | None, total: str = "100.00", **overrides: Any
    ) -> dict[str, Any]:
        """Add (or replace) a paid order with one line item worth ``total``."""
        created = self.now - timedelta(days=200 - order_id % 150, hours=order_id % 24)
        line = line_item_record(
            order_id * 10 + 1,
            total,
            sku=f"SKU-{order_id % 17}",
            product_id=500 + order_id % 17,
            variant_id=900 + order_id % 17,
        )
        defaults: dict[str, Any] = {
            "email": None if customer_id is None else f"customer{customer_id}@example.com",
            "line_items": [line],
            "refunds": [],
        }
        record = order_record(
            order_id,
            customer_id,
            shop_domain=self.shop_domain,
            created_at=iso(created),
            updated_at=iso(created + timedelta(minutes=5)),
            money=OrderMoney(total=total),
            **defaults,
        )
        record.update(overrides)
        self.orders[order_id] = record
        return record

    def refund(self, order_id: int, refund_id: int, amount: str) -> dict[str, Any]:
        """Refund part of an order: adds the refund and moves the order's current totals."""
        order = self.orders[order_id]
        order["refunds"].append(refund_record(refund_id, iso(self.now), amount))
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
            output.append(schema_message(stream, bookmark_properties=["updated_at"]))
            output.extend(record_message(stream, r) for r in records.values())
            newest = max((r["updated_at"] for r in records.values()), default=None)
            output.append(state_message({"bookmarks": {stream: {"replication_key_value": newest}}}))
        if roster_version is not None:
            ids = sorted(self.customers) if roster_ids is None else roster_ids
            output.append(schema_message("customer_roster"))
            output.append(activate_version_message("customer_roster", roster_version))
            for customer_id in ids:
                record = roster_record(
                    customer_id,
                    shop_domain=self.shop_domain,
                    updated_at=self.customers.get(customer_id, {}).get("updated_at"),
                )
                output.append(record_message("customer_roster", record, roster_version))
            output.append(activate_version_message("customer_roster", roster_version))
            output.append(state_message({"roster_version": roster_version}))
        return output


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
    output = [schema_message("sync_manifest", schema)]
    for stream, emitted in counts.items():
        record = manifest_record(
            stream,
            emitted,
            shop_domain=shop_domain,
            run_id=run_id,
            finished_at=iso(now),
            window_end=None if stream == "customer_roster" else iso(now),
        )
        output.append(record_message("sync_manifest", record))
    return output
