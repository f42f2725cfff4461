"""Every query validates against Shopify's real 2025-01 schema; records match the schemas."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pytest
from graphql import build_client_schema, parse, validate
from tap_shopify_history.schemas import schema_path
from tap_shopify_history.shopify import queries
from tap_shopify_history.shopify.records import customer_record, order_record, roster_record
from tap_shopify_history.shopify.refunds import hydrate_refunds, lookup_document

SCHEMA_FILE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "shopify-admin-schema"
    / "admin_schema_2025-01.json.gz"
)


@pytest.fixture(scope="module")
def shopify_schema():
    if not SCHEMA_FILE.exists():
        pytest.skip(f"Shopify's 2025-01 schema is not at {SCHEMA_FILE}")
    return build_client_schema(json.load(gzip.open(SCHEMA_FILE))["data"])


def _refund_document() -> str:
    captured: list[str] = []

    class Capture:
        def execute(self, document, variables=None, estimated_cost=0):
            captured.append(document)
            return {}

    hydrate_refunds(
        Capture(), [{"id": "gid://shopify/Order/1", "refunds": [{"id": "gid://shopify/Refund/2"}]}]
    )  # type: ignore[arg-type]
    return captured[0]


def documents() -> dict[str, str]:
    bulk = queries.customers_bulk_query("updated_at:>='2024-01-01T00:00:00Z'", True)
    return {
        "shop_info": queries.SHOP_INFO,
        "customers_count": queries.CUSTOMERS_COUNT,
        "orders_count": queries.ORDERS_COUNT,
        "latest_customers": queries.latest_updated_query("customers"),
        "latest_orders": queries.latest_updated_query("orders"),
        "customers_page": queries.customers_page_query(False),
        "customers_page_metafields": queries.customers_page_query(True),
        "orders_page": queries.orders_page_query(),
        "order_line_items": queries.ORDER_LINE_ITEMS_PAGE,
        "order_refunds": _refund_document(),
        "order_refunds_full": lookup_document(
            ["gid://shopify/Order/1", "gid://shopify/Order/2"], [3, 180], full=True
        ),
        "order_refunds_shop_money": lookup_document(
            ["gid://shopify/Order/1", "gid://shopify/Order/2"],
            [1, 2],
            full=False,
            shop_money_only=[True, False],
        ),
        "roster_page": queries.ROSTER_PAGE,
        "customers_bulk": bulk,
        "customers_bulk_plain": queries.customers_bulk_query(None, False),
        "orders_bulk": queries.orders_bulk_query(
            "test:false AND updated_at:>='2024-01-01T00:00:00Z'"
        ),
        "roster_bulk": queries.ROSTER_BULK,
        "bulk_poll": queries.BULK_POLL,
        "current_bulk": queries.CURRENT_BULK_OPERATION,
        "bulk_cancel": queries.BULK_CANCEL,
        "bulk_run": queries.bulk_run_mutation(bulk, None)[0],
    }


@pytest.mark.schema_oracle
@pytest.mark.parametrize("name", sorted(documents()))
def test_query_validates_against_shopify_2025_01(shopify_schema, name: str) -> None:
    errors = validate(shopify_schema, parse(documents()[name]))
    assert errors == [], f"{name}: {[e.message for e in errors]}"


MONEY = {"amount": "10.50", "currencyCode": "USD"}
BAG = {"shopMoney": MONEY, "presentmentMoney": {"amount": "9.70", "currencyCode": "EUR"}}


def test_records_match_their_json_schemas() -> None:
    customer = {
        "id": "gid://shopify/Customer/7",
        "email": "a@example.com",
        "phone": None,
        "firstName": "A",
        "lastName": None,
        "displayName": "A",
        "defaultAddress": {
            "city": "Lyon",
            "province": None,
            "provinceCode": None,
            "country": "France",
            "countryCodeV2": "FR",
            "zip": "69001",
        },
        "numberOfOrders": "3",
        "amountSpent": MONEY,
        "emailMarketingConsent": {
            "marketingState": "SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "consentUpdatedAt": "2024-01-01T00:00:00+00:00",
        },
        "smsMarketingConsent": None,
        "tags": ["vip"],
        "state": "ENABLED",
        "verifiedEmail": True,
        "note": None,
        "createdAt": "2023-01-01T00:00:00Z",
        "updatedAt": "2024-01-01T00:00:00Z",
        "metafields": [
            {
                "namespace": "loyalty",
                "key": "tier",
                "value": "gold",
                "type": "single_line_text_field",
            },
            {"namespace": "other", "key": "x", "value": "1", "type": "number_integer"},
        ],
    }
    record = customer_record(customer, "demo.myshopify.com", ["loyalty"])
    assert record["id"] == 7
    assert record["number_of_orders"] == 3
    assert record["email_marketing_consent"]["consent_updated_at"] == "2024-01-01T00:00:00Z"
    assert [m["key"] for m in record["metafields"]] == ["tier"]
    assert record["amount_spent"] == {"amount": "10.50", "currency_code": "USD"}
    jsonschema.validate(record, json.loads(schema_path("customers").read_text()))

    order = {
        "id": "gid://shopify/Order/1001",
        "name": "#1001",
        "createdAt": "2024-01-01T00:00:00Z",
        "processedAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-01-02T00:00:00Z",
        "cancelledAt": None,
        "closedAt": None,
        "cancelReason": None,
        "test": False,
        "customer": {"id": "gid://shopify/Customer/7"},
        "email": "a@example.com",
        "phone": None,
        "currencyCode": "USD",
        "presentmentCurrencyCode": "EUR",
        **dict.fromkeys(
            [
                "totalPriceSet",
                "subtotalPriceSet",
                "totalTaxSet",
                "totalDiscountsSet",
                "totalShippingPriceSet",
                "currentTotalPriceSet",
                "currentSubtotalPriceSet",
                "currentTotalTaxSet",
                "currentTotalDiscountsSet",
                "totalRefundedSet",
            ],
            BAG,
        ),
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "FULFILLED",
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/5",
                    "sku": "S",
                    "title": "T",
                    "name": "T",
                    "quantity": 2,
                    "currentQuantity": 1,
                    "vendor": None,
                    "product": {"id": "gid://shopify/Product/3"},
                    "variant": None,
                    "originalUnitPriceSet": BAG,
                    "discountedUnitPriceSet": BAG,
                    "originalTotalSet": BAG,
                    "discountedTotalSet": BAG,
                }
            ]
        },
        "refunds": [
            {
                "id": "gid://shopify/Refund/9",
                "createdAt": "2024-01-02T00:00:00Z",
                "note": None,
                "totalRefundedSet": BAG,
                "refundLineItems": {
                    "nodes": [
                        {
                            "quantity": 1,
                            "lineItem": {"id": "gid://shopify/LineItem/5"},
                            "subtotalSet": BAG,
                        }
                    ]
                },
            }
        ],
        "tags": [],
        "sourceName": "web",
    }
    record = order_record(order, "demo.myshopify.com")
    assert record["customer_id"] == 7
    assert record["line_items"][0]["product_id"] == 3
    assert record["line_items"][0]["variant_id"] is None
    assert record["refunds"][0]["refund_line_items"][0]["line_item_id"] == 5
    assert record["total_price_set"]["presentment_money"]["amount"] == "9.70"
    jsonschema.validate(record, json.loads(schema_path("orders").read_text()))

    roster = roster_record(
        {"id": "gid://shopify/Customer/7", "updatedAt": "2024-01-01T00:00:00Z"}, "d"
    )
    jsonschema.validate(roster, json.loads(schema_path("customer_roster").read_text()))
