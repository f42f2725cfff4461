"""``POST /admin/api/{version}/graphql.json``: auth, cost, throttling, execution."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)

from shopify_emulator import fastexec
from shopify_emulator.cost import MAX_QUERY_COST, CostCalculator
from shopify_emulator.deprecations import deprecated_reason
from shopify_emulator.schema import resolve_version, served_schema
from shopify_emulator.views import RequestContext

if TYPE_CHECKING:
    from shopify_emulator.emulator import App, Emulator

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


class _Answer(Exception):  # noqa: N818 - control flow, not an error
    """An early answer (status, body) from one of the request's checks."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class _Request:
    """A parsed, validated request."""

    source: str
    variables: dict[str, Any]
    operation_name: str | None
    document: DocumentNode
    operation: OperationDefinitionNode


@functools.lru_cache(maxsize=256)
def _checked(
    schema: GraphQLSchema, version: str, source: str
) -> tuple[DocumentNode, tuple[dict[str, Any], ...], str | None]:
    """(document, validation errors, deprecation reason) of a query text, kept per text.

    Parsing and validating a sync's page query took most of a page's time, and a sync
    sends the same text over and over; documents are never modified, so sharing is safe.
    """
    try:
        document = parse(source)
    except GraphQLError as error:
        raise _Answer(200, {"errors": [error.formatted]}) from error
    problems = tuple(e.formatted for e in validate(schema, document))
    reason = None if problems else deprecated_reason(schema, document, version)
    return document, problems, reason


def _parse_request(schema: GraphQLSchema, body: bytes, headers: dict[str, str]) -> _Request:
    """Parse and validate the body; raise _Answer with Shopify's reply when it is unusable."""
    try:
        payload = json.loads(body or b"{}")
        source = payload["query"]
        if not isinstance(source, str):
            raise TypeError(source)
    except (ValueError, KeyError, TypeError) as error:
        raise _Answer(
            400, {"errors": {"query": "Required parameter missing or invalid"}}
        ) from error
    # The reference path (fastexec switched off, for benchmarks) parses every request anew.
    check = _checked if fastexec.ENABLED else _checked.__wrapped__
    document, problems, reason = check(schema, headers["X-Shopify-API-Version"], source)
    if problems:
        raise _Answer(200, {"errors": list(problems)})
    if reason is not None:
        headers["X-Shopify-API-Deprecated-Reason"] = reason
    operation = _operation(document, payload.get("operationName"))
    if operation is None:
        raise _Answer(200, {"errors": [{"message": "An operation name is required"}]})
    return _Request(
        source, payload.get("variables") or {}, payload.get("operationName"), document, operation
    )


def handle_graphql(
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
        request = _parse_request(served_schema(served), body, headers)
        return 200, _execute(emulator, app, served, request), headers
    except _Answer as answer:
        return answer.status, answer.body, headers


def _execute(emulator: Emulator, app: App, served: str, request: _Request) -> dict[str, Any]:
    """Charge the bucket, run the operation, refund the unused cost."""
    schema = served_schema(served)
    calculator = CostCalculator(schema, request.document, request.operation, request.variables)
    requested = calculator.requested()
    if requested > MAX_QUERY_COST:
        raise _Answer(200, max_cost_body(requested))
    bucket = emulator.bucket(app.key)
    if emulator.faults.fires("throttle"):
        bucket.drain()
    if emulator.rate_limited and not bucket.try_take(requested):
        emulator.usage.throttled(requested)
        raise _Answer(200, throttled_body(requested, bucket.status()))
    ctx = RequestContext(
        store=emulator.store,
        scopes=app.scopes,
        version=served,
        app_key=app.key,
        base_url=emulator.base_url,
        protected_denied=emulator.protected_denied,
        bulk=emulator.bulk,
        plan=emulator.plan,
        webhooks=emulator.webhooks,
    )
    result = fastexec.execute(
        schema, request.document, ctx, request.variables, request.operation_name
    )
    actual = calculator.actual(result.data)
    if emulator.rate_limited:
        bucket.give_back(requested - actual)
    emulator.usage.executed(requested, actual)
    out: dict[str, Any] = {}
    if result.errors:
        out["errors"] = _errors(list(result.errors))
    out["data"] = result.data
    cost = {"requestedQueryCost": requested, "actualQueryCost": actual}
    out["extensions"] = {"cost": {**cost, "throttleStatus": bucket.status()}}
    return out
