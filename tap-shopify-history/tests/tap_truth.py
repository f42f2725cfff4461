"""Compare the tap's records with the emulator's ``snapshot()`` (the store's truth)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
from tap_shopify_history.schemas import schema_path


@cache
def validator(stream: str) -> jsonschema.Draft7Validator:
    schema = json.loads(schema_path(stream).read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid_records(output: Any) -> None:
    """Records match their JSON Schemas (the tap skips the SDK's type conformance)."""
    for stream in ("customers", "orders", "customer_roster"):
        for record in output.records(stream):
            errors = list(validator(stream).iter_errors(record))
            assert not errors, f"{stream} {record.get('id')}: {errors[0].message}"


def customer_view(record: dict[str, Any]) -> dict[str, Any]:
    consent = record["email_marketing_consent"] or {}
    sms = record["sms_marketing_consent"] or {}
    return {
        "id": record["id"],
        "admin_graphql_api_id": record["admin_graphql_api_id"],
        "email": record["email"],
        "phone": record["phone"],
        "first_name": record["first_name"],
        "last_name": record["last_name"],
        "display_name": record["display_name"],
        "state": record["state"],
        "tags": record["tags"],
        "verified_email": record["verified_email"],
        "note": record["note"],
        "email_marketing_state": consent.get("state") if record["email"] else None,
        "sms_marketing_state": sms.get("state") if record["phone"] else None,
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "number_of_orders": record["number_of_orders"],
        "amount_spent": record["amount_spent"]["amount"],
        "default_address": record["default_address"],
    }


def snapshot_customer(truth: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in truth.items() if k != "metafields"}
    if view["default_address"] is not None:
        view["default_address"] = {
            k: view["default_address"].get(k)
            for k in ("city", "province", "province_code", "country", "country_code", "zip")
        }
    return view


def order_view(record: dict[str, Any]) -> dict[str, Any]:
    def shop(field: str) -> str:
        return record[field]["shop_money"]["amount"]

    return {
        "id": record["id"],
        "admin_graphql_api_id": record["admin_graphql_api_id"],
        "name": record["name"],
        "customer_id": record["customer_id"],
        "email": record["email"],
        "phone": record["phone"],
        "test": record["test"],
        "created_at": record["created_at"],
        "processed_at": record["processed_at"],
        "updated_at": record["updated_at"],
        "cancelled_at": record["cancelled_at"],
        "cancel_reason": record["cancel_reason"],
        "closed_at": record["closed_at"],
        "currency_code": record["currency_code"],
        "presentment_currency_code": record["presentment_currency_code"],
        "total_price": shop("total_price_set"),
        "subtotal_price": shop("subtotal_price_set"),
        "total_tax": shop("total_tax_set"),
        "current_total_price": shop("current_total_price_set"),
        "total_refunded": shop("total_refunded_set"),
        "financial_status": record["financial_status"],
        "fulfillment_status": record["fulfillment_status"],
        "source_name": record["source_name"],
        "tags": record["tags"],
        "line_items": [
            {
                "id": li["id"],
                "sku": li["sku"],
                "title": li["title"],
                "quantity": li["quantity"],
                "current_quantity": li["current_quantity"],
                "price": li["original_unit_price_set"]["shop_money"]["amount"],
                "product_id": li["product_id"],
                "variant_id": li["variant_id"],
            }
            for li in record["line_items"]
        ],
        "refunds": [
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "amount": r["total_refunded_set"]["shop_money"]["amount"],
                "note": r["note"],
                "refund_line_items": [
                    {
                        "line_item_id": rl["line_item_id"],
                        "quantity": rl["quantity"],
                        "subtotal": rl["subtotal_set"]["shop_money"]["amount"],
                    }
                    for rl in r["refund_line_items"]
                ],
            }
            for r in record["refunds"]
        ],
    }


def snapshot_order(truth: dict[str, Any]) -> dict[str, Any]:
    view = dict(truth)
    view["refunds"] = [{k: v for k, v in r.items() if k != "updated_at"} for r in truth["refunds"]]
    return view


def assert_matches_snapshot(
    output: Any, snapshot: dict[str, Any], *, include_test_orders: bool = False
) -> None:
    """Every record equals the store's truth, and every live record was emitted exactly once."""
    assert_valid_records(output)
    customers = output.records("customers")
    assert len(customers) == len({c["id"] for c in customers}), "duplicate customers"
    expected = {c["id"]: snapshot_customer(c) for c in snapshot["customers"]}
    assert {c["id"]: customer_view(c) for c in customers} == expected

    orders = output.records("orders")
    assert len(orders) == len({o["id"] for o in orders}), "duplicate orders"
    truth = {
        o["id"]: snapshot_order(o)
        for o in snapshot["orders"]
        if include_test_orders or not o["test"]
    }
    got = {o["id"]: order_view(o) for o in orders}
    assert set(got) == set(truth)
    for order_id, view in got.items():
        assert view == truth[order_id], f"order {order_id} differs"

    roster = output.records("customer_roster")
    assert sorted(r["id"] for r in roster) == sorted(expected)
    shop = snapshot["shop_domain"]
    assert {r["shop_domain"] for r in customers + orders + roster} == {shop}
