"""GraphQL resolvers of ``webhookSubscriptionCreate``, ``webhookSubscriptionDelete`` and
``webhookSubscriptions``, over the emulator's :class:`WebhookDispatcher`.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from shopify_emulator.webhooks import Subscription, WebhookDispatcher, topic_enum, topic_from_enum

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo

URL_FIELD = ["webhookSubscription", "callbackUrl"]


def _dispatcher(info: GraphQLResolveInfo) -> WebhookDispatcher:
    return info.context.webhooks  # type: ignore[no-any-return]


def subscription_view(sub: Subscription) -> dict[str, Any]:
    """A subscription as the GraphQL ``WebhookSubscription`` object."""
    endpoint = {"__typename": "WebhookHttpEndpoint", "callbackUrl": sub.callback_url}
    return {
        "__typename": "WebhookSubscription",
        "id": sub.gid,
        "topic": topic_enum(sub.topic),
        "format": sub.format,
        "createdAt": sub.created_at,
        "updatedAt": sub.created_at,
        "endpoint": endpoint,
        "callbackUrl": sub.callback_url,
    }


def _cursor(sub: Subscription) -> str:
    return base64.b64encode(f"WebhookSubscription:{sub.id}".encode()).decode()


def _after_id(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as error:
        raise ValueError(f"webhookSubscriptions: invalid cursor {cursor!r}") from error


def create(
    _root: Any,
    info: GraphQLResolveInfo,
    topic: str,
    webhookSubscription: dict[str, Any],  # noqa: N803 (the GraphQL argument's name)
) -> dict[str, Any]:
    """``webhookSubscriptionCreate``: the subscription, or userErrors naming callbackUrl."""
    url = webhookSubscription.get("callbackUrl") or ""
    try:
        sub = _dispatcher(info).subscribe(
            topic_from_enum(topic), url, webhookSubscription.get("format") or "JSON"
        )
    except ValueError as error:
        field = URL_FIELD if "ddress" in str(error) else ["webhookSubscription", "format"]
        return {
            "webhookSubscription": None,
            "userErrors": [{"field": field, "message": str(error)}],
        }
    return {"webhookSubscription": subscription_view(sub), "userErrors": []}


def delete(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    """``webhookSubscriptionDelete``: the deleted id, or a userError when there is none."""
    try:
        number = int(str(id).rsplit("/", 1)[-1])
    except ValueError:
        number = -1
    if _dispatcher(info).unsubscribe(number):
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}
    return {
        "deletedWebhookSubscriptionId": None,
        "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
    }


def list_subscriptions(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """``webhookSubscriptions(first:, after:, topics:)``, oldest first (``reverse`` flips)."""
    subs = sorted(_dispatcher(info).subscriptions.values(), key=lambda s: s.id)
    if args.get("topics"):
        wanted = set(args["topics"])
        subs = [s for s in subs if topic_enum(s.topic) in wanted]
    if args.get("reverse"):
        subs.reverse()
    after = _after_id(args.get("after"))
    if after:
        ids = [s.id for s in subs]
        subs = subs[ids.index(after) + 1 :] if after in ids else []
    first = args.get("first") or args.get("last") or 50
    page, more = subs[:first], len(subs) > first
    edges = [{"cursor": _cursor(s), "node": subscription_view(s)} for s in page]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": bool(after),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
