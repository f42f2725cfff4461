"""The served schema per API version, built from SDL files, with resolvers attached.

``schema/2025-01.graphql`` is the base; ``extend-<version>.graphql`` files add what later
versions add; the newest ``mutation-<version>.graphql`` not after the requested version
defines the Mutation type (field arguments cannot be added with ``extend``).
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema, build_schema

from shopify_emulator import webhook_graphql
from shopify_emulator.listing import (
    count_customers,
    count_orders,
    find_node,
    list_customers,
    list_orders,
    list_products,
)
from shopify_emulator.views import CustomerView, OrderView, RequestContext

SCHEMA_DIR = Path(__file__).parent / "schema"
BASE_VERSION = "2025-01"
SUPPORTED_VERSIONS = (
    "2025-01",
    "2025-04",
    "2025-07",
    "2025-10",
    "2026-01",
    "2026-04",
    "2026-07",
    "2026-10",
)


def resolve_version(requested: str, served: tuple[str, ...] = SUPPORTED_VERSIONS) -> str:
    """The version Shopify answers with: unknown or retired versions fall forward.

    Args:
        requested: The version in the URL path.
        served: Versions this emulator serves, oldest first.

    Returns:
        ``requested`` when served; the newest for ``unstable``; else the oldest served.
    """
    if requested in served:
        return requested
    if requested == "unstable":
        return served[-1]
    return served[0]


def schema_sdl(version: str) -> str:
    """The SDL text served for ``version``."""
    parts = [(SCHEMA_DIR / f"{BASE_VERSION}.graphql").read_text()]
    mutation = None
    for path in sorted(SCHEMA_DIR.glob("*.graphql")):
        stem = path.stem
        file_version = stem.split("-", 1)[1] if "-" in stem and not stem[0].isdigit() else None
        if file_version is None or file_version > version:
            continue
        if stem.startswith("extend-"):
            parts.append(path.read_text())
        elif stem.startswith("mutation-"):
            mutation = path.read_text()
    if mutation is not None:
        parts.append(mutation)
    return "\n".join(parts)


def _ctx(info: GraphQLResolveInfo) -> RequestContext:
    return info.context  # type: ignore[no-any-return]


def _resolve_node_type(value: Any, _info: GraphQLResolveInfo, _type: Any) -> str | None:
    if isinstance(value, CustomerView):
        return "Customer"
    if isinstance(value, OrderView):
        return "Order"
    if isinstance(value, dict):
        return value.get("__typename")
    return None


def _orders(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    _ctx(info).require("read_orders", "orders")
    return list_orders(_ctx(info), args)


def _query_resolvers() -> dict[str, Any]:
    return {
        "customers": lambda _r, info, **a: list_customers(_ctx(info), a),
        "orders": _orders,
        "products": lambda _r, info, **a: list_products(_ctx(info), a),
        "customer": lambda _r, info, id: find_node(_ctx(info), id),
        "order": lambda _r, info, id: find_node(_ctx(info), id),
        "product": lambda _r, info, id: find_node(_ctx(info), id),
        "node": lambda _r, info, id: find_node(_ctx(info), id),
        "bulkOperation": lambda _r, info, id: find_node(_ctx(info), id),
        "customersCount": lambda _r, info, query=None: count_customers(_ctx(info), query),
        "ordersCount": lambda _r, info, query=None, limit=None, **_: count_orders(
            _ctx(info), query, limit
        ),
        "shop": lambda _r, info: shop_dict(_ctx(info)),
        "webhookSubscriptions": webhook_graphql.list_subscriptions,
        "currentAppInstallation": lambda _r, info: app_installation(_ctx(info)),
        "currentBulkOperation": lambda _r, info, type="QUERY": _ctx(info).bulk.current(
            _ctx(info), type
        ),
    }


def _run_bulk(_root: Any, info: GraphQLResolveInfo, query: str, **args: Any) -> Any:
    # groupObjects exists from 2025-07; its default comes from the version's SDL.
    return _ctx(info).bulk.run(_ctx(info), query, args.get("groupObjects"))


def _mutation_resolvers() -> dict[str, Any]:
    return {
        "bulkOperationRunQuery": _run_bulk,
        "bulkOperationCancel": lambda _r, info, id: _ctx(info).bulk.cancel(_ctx(info), id),
        "webhookSubscriptionCreate": webhook_graphql.create,
        "webhookSubscriptionDelete": webhook_graphql.delete,
    }


@functools.cache
def served_schema(version: str) -> GraphQLSchema:
    """The executable schema of one API version (cached)."""
    schema = build_schema(schema_sdl(version))
    for root, resolvers in (
        (schema.query_type, _query_resolvers()),
        (schema.mutation_type, _mutation_resolvers()),
    ):
        assert root is not None
        for name, resolver in resolvers.items():
            if name in root.fields:
                root.fields[name].resolve = resolver
    node = schema.get_type("Node")
    node.resolve_type = _resolve_node_type  # type: ignore[union-attr]
    endpoint = schema.get_type("WebhookSubscriptionEndpoint")
    endpoint.resolve_type = _resolve_node_type  # type: ignore[union-attr]
    return schema


PLAN_NAMES = {"standard": "Basic", "advanced": "Advanced", "plus": "Shopify Plus"}


def shop_dict(ctx: RequestContext) -> dict[str, Any]:
    """The ``shop`` object."""
    store = ctx.store
    plan = ctx.plan
    return {
        "id": gid_shop(store.shop_domain),
        "name": store.shop_name,
        "email": f"owner@{store.shop_domain}",
        "myshopifyDomain": store.shop_domain,
        "currencyCode": "USD",
        "ianaTimezone": "America/New_York",
        "plan": {
            "displayName": PLAN_NAMES.get(plan, "Basic"),
            "partnerDevelopment": False,
            "shopifyPlus": plan == "plus",
        },
    }


def gid_shop(domain: str) -> str:
    """A stable shop gid derived from the domain."""
    return f"gid://shopify/Shop/{sum(ord(ch) * 31**i for i, ch in enumerate(domain)) % 10**11}"


def app_installation(ctx: RequestContext) -> dict[str, Any]:
    """``currentAppInstallation`` with the token's access scopes."""
    return {
        "id": "gid://shopify/AppInstallation/" + str(zlib.crc32(ctx.app_key.encode())),
        "accessScopes": [
            {"handle": s, "description": f"Grants {s.replace('_', ' ')}."}
            for s in sorted(ctx.scopes)
        ],
    }
