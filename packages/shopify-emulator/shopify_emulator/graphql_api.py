"""``POST /admin/api/{version}/graphql.json``: auth, cost, throttling, execution."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)

from shopify_emulator.cost import MAX_QUERY_COST, CostCalculator
from shopify_emulator.deprecations import deprecated_reason
from shopify_emulator.schema import resolve_version, served_schema
from shopify_emulator.views import RequestContext

if TYPE_CHECKING:
    from shopify_emulator.emulator import Emulator

INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
MAX_EXECUTION_ERRORS = 50


def throttled_body(requested: int, status: dict[str, Any]) -> dict[str, Any]:
    """Shopify's THROTTLED response (HTTP 200, no data)."""
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": status,
            }
        },
    }


def max_cost_body(requested: int) -> dict[str, Any]:
    """Shopify's MAX_COST_EXCEEDED response (HTTP 200, not retryable)."""
    return {
        "errors": [
            {
                "message": (
                    f"Query cost is {requested}, which exceeds the single query max cost limit "
                    f"({MAX_QUERY_COST}).\n\nSee "
                    "https://shopify.dev/concepts/about-apis/rate-limits for more information on "
                    "how "
                    "the cost of a query is calculated.\n\nTo query "
                    "larger amounts of data with fewer limits, bulk operations should be used "
                    "instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-"
                    "admin-api for usage details.\n"
                ),
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": MAX_QUERY_COST,
                    "documentation": "https://shopify.dev/api/usage/limits#rate-limits",
                },
            }
        ]
    }


def _errors(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [dict(e.formatted) for e in errors[:MAX_EXECUTION_ERRORS]]
    if len(errors) > MAX_EXECUTION_ERRORS:
        out.append(
            {"message": "Too many execution errors, max error limit reached. Results truncated"}
        )
    return out


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name is not None and o.name.value == name), None)


def handle_graphql(  # noqa: PLR0911 - each early return is one of Shopify's answers
    emulator: Emulator, version: str, token: str | None, body: bytes
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Answer one GraphQL request: (HTTP status, JSON body, extra headers).

    Args:
        emulator: The emulator state.
        version: API version from the path.
        token: The ``X-Shopify-Access-Token`` header.
        body: Raw request body.

    Returns:
        Status, body and headers, exactly as Shopify would send them.
    """
    served = resolve_version(version, emulator.api_versions)
    headers = {"X-Shopify-API-Version": served}
    app = emulator.apps.get(token or "")
    if app is None:
        return 401, INVALID_TOKEN_BODY, headers
    try:
        payload = json.loads(body or b"{}")
        source = payload["query"]
        if not isinstance(source, str):
            raise TypeError(source)
    except (ValueError, KeyError, TypeError):
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}, headers
    variables = payload.get("variables") or {}
    schema = served_schema(served)
    try:
        document = parse(source)
    except GraphQLError as error:
        return 200, {"errors": [error.formatted]}, headers
    problems = validate(schema, document)
    if problems:
        return 200, {"errors": [e.formatted for e in problems]}, headers
    reason = deprecated_reason(schema, document, served)
    if reason is not None:
        headers["X-Shopify-API-Deprecated-Reason"] = reason
    operation = _operation(document, payload.get("operationName"))
    if operation is None:
        return 200, {"errors": [{"message": "An operation name is required"}]}, headers
    calculator = CostCalculator(schema, document, operation, variables)
    requested = calculator.requested()
    if requested > MAX_QUERY_COST:
        return 200, max_cost_body(requested), headers
    bucket = emulator.bucket(app.key)
    if emulator.faults.fires("throttle"):
        bucket.drain()
    if emulator.rate_limited and not bucket.try_take(requested):
        return 200, throttled_body(requested, bucket.status()), headers
    ctx = RequestContext(
        store=emulator.store,
        scopes=app.scopes,
        version=served,
        app_key=app.key,
        base_url=emulator.base_url,
        protected_denied=emulator.protected_denied,
        bulk=emulator.bulk,
        plan=emulator.plan,
    )
    result = execute_sync(
        schema,
        document,
        context_value=ctx,
        variable_values=variables,
        operation_name=payload.get("operationName"),
    )
    actual = calculator.actual(result.data)
    if emulator.rate_limited:
        bucket.give_back(requested - actual)
    out: dict[str, Any] = {}
    if result.errors:
        out["errors"] = _errors(list(result.errors))
    out["data"] = result.data
    out["extensions"] = {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }
    return 200, out, headers
