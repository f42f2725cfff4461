"""Errors of the Shopify protocol layer, grouped by what the caller does about them.

This layer does not import singer-sdk; the streams translate ``ShopifyFatalError`` into the
SDK's ``FatalAPIError``. No message here ever contains the access token.
"""

from __future__ import annotations

from collections.abc import Iterable


class ShopifyError(Exception):
    """Base class of every error raised by the protocol layer."""


class ShopifyFatalError(ShopifyError):
    """Retrying cannot help: configuration, permissions or a broken contract."""


class ShopifyAuthError(ShopifyFatalError):
    """HTTP 401/403: the token was rejected or lacks access."""


class MissingScopeError(ShopifyFatalError):
    """The token lacks an access scope the requested sync needs."""


class ProtectedCustomerDataError(ShopifyFatalError):
    """The app is not approved for protected customer data (one error for all fields)."""

    def __init__(self, fields: Iterable[str], level: int) -> None:
        """Build the one clear message naming the denied fields.

        Args:
            fields: GraphQL field names that came back denied.
            level: The protected customer data level the fields need (1 or 2).
        """
        self.fields = sorted(set(fields))
        self.level = level
        super().__init__(
            "Shopify denied protected customer data for fields "
            f"{', '.join(self.fields)}: the app needs approval for protected customer data "
            f"level {level} (Partner Dashboard > App > API access > Protected customer data"
            ", request access to "
            + ("name, email, phone and address" if level == 2 else "customer data")
            + ")."
        )


class GraphQLQueryError(ShopifyFatalError):
    """The API rejected the query itself (syntax, cost above the maximum, bad arguments)."""


class QueryCostExceededError(GraphQLQueryError):
    """MAX_COST_EXCEEDED: the query asks for more than the single-query cap."""

    def __init__(self, message: str, cost: float | None) -> None:
        """Keep the reported cost so the caller can shrink the page.

        Args:
            message: Shopify's message.
            cost: The query's cost as Shopify computed it.
        """
        self.cost = cost
        super().__init__(message)


class BulkOperationError(ShopifyFatalError):
    """A bulk operation failed, was canceled or its result does not reconcile."""


class BulkAccessDeniedError(BulkOperationError):
    """A bulk operation failed with ACCESS_DENIED (a scope or protected data is missing)."""


class BulkOperationTimeoutError(BulkOperationError):
    """A bulk operation ran longer than the time allowed (``bulk_max_wait_seconds``)."""


class BulkOperationExpiredError(ShopifyError):
    """The bulk operation (or its result URL) expired; the caller submits it again."""


class ShopifyRetriableError(ShopifyError):
    """Transient: 5xx, 429, connection errors, INTERNAL_SERVER_ERROR."""


class ShopifyThrottledError(ShopifyRetriableError):
    """GraphQL THROTTLED (HTTP 200): wait for the bucket to refill and retry."""

    def __init__(self, requested_cost: float | None) -> None:
        """Remember the cost the refused query asked for.

        Args:
            requested_cost: ``requestedQueryCost`` of the refused query, if reported.
        """
        self.requested_cost = requested_cost
        super().__init__(f"THROTTLED (requested cost {requested_cost})")
