"""Customers and orders by id: aliased lookups (``c1: customer(id: ...)``) batched by cost.

The webhook path re-fetches exactly the ids the queue hinted, with the same selection as the
scheduled pages, so a record has one shape whichever path read it. As many lookups go in one
query as its requested cost allows; the cost per object is corrected from each answer's
``requestedQueryCost``, and a query Shopify still finds too costly is split.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import QueryCostExceededError
from tap_shopify_history.shopify.ids import id_to_gid
from tap_shopify_history.shopify.queries import by_id_query

# Aliases per query at most, whatever the cost allows (keeps one answer small).
MAX_LOOKUPS = 50
FIXED_COST = 1.0


def fetch_by_ids(
    client: GraphQLClient,
    root: str,
    ids: Sequence[int],
    selection: str,
    cost_per_object: float,
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Yield ``(id, node)`` for each id, in the order given; ``None`` for an id not found.

    Args:
        client: The store's client.
        root: ``customer`` or ``order`` (the query root and the gid's type).
        ids: The numeric ids.
        selection: The fields of each object.
        cost_per_object: The first estimate of one lookup's requested cost.

    Yields:
        Each id with its node, or None when Shopify has no such object.
    """
    resource = root.title()
    per_object = max(1.0, cost_per_object)
    pending = list(ids)
    while pending:
        size = min(MAX_LOOKUPS, len(pending), client.limiter.page_size(per_object, FIXED_COST))
        batch = pending[:size]
        document = by_id_query(root, [id_to_gid(resource, i) for i in batch], selection)
        try:
            data = client.execute(document, estimated_cost=FIXED_COST + per_object * len(batch))
        except QueryCostExceededError as error:
            if len(batch) == 1:
                raise
            # Our estimate was low: learn from Shopify's figure and ask for fewer at once.
            per_object = max(per_object * 2, float(error.cost or 0) / len(batch))
            continue
        cost = ((data.get("__extensions") or {}).get("cost") or {}).get("requestedQueryCost")
        if cost:
            per_object = max(1.0, (float(cost) - FIXED_COST) / len(batch))
        for n, numeric_id in enumerate(batch, 1):
            yield numeric_id, data.get(f"c{n}")
        pending = pending[size:]
