"""A GraphQL Admin API client on requests: cost-aware, retrying, never leaking the token."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from tap_shopify_history.shopify.errors import (
    BulkOperationExpiredError,
    GraphQLQueryError,
    QueryCostExceededError,
    ShopifyAuthError,
    ShopifyFatalError,
    ShopifyRetriableError,
    ShopifyThrottledError,
)
from tap_shopify_history.shopify.limiter import CostLimiter, ThrottleStatus
from tap_shopify_history.shopify.protected import raise_if_protected_data_denied

LOGGER = logging.getLogger("tap_shopify_history.shopify")
RETRIABLE_STATUS = frozenset({429, 430, 500, 502, 503, 504, 520, 522, 524})
# A connection cut mid-body surfaces as ChunkedEncodingError, not ConnectionError.
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
RETRIABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "TIMEOUT", "SERVICE_UNAVAILABLE"})
# THROTTLED is expected under load and the limiter waits exactly as long as needed, so it
# gets its own, larger allowance than real errors.
THROTTLED_RETRIES_PER_ERROR_RETRY = 10
DOWNLOAD_CHUNK = 1 << 20
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


def backoff_delay(attempt: int, jitter: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter before retry ``attempt`` (0-based).

    The tap computes its own delays rather than importing a backoff library: two
    distributions (``backoff`` and ``python-backoff``) ship the same ``backoff`` package
    with different generator semantics, and which one is installed must not decide whether
    the first retry works.

    Args:
        attempt: How many retries happened before this one.
        jitter: Uniform draw in ``[0, 1)``, injected for tests.

    Returns:
        Seconds to wait: uniform in ``[0, min(30, 0.5 * 2**attempt))``.

    Example:
        >>> backoff_delay(3, jitter=lambda: 0.5)
        2.0
    """
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2.0 ** min(attempt, 32))
    return ceiling * jitter()


def graphql_endpoint(store_url: str, api_version: str) -> str:
    """The GraphQL endpoint of a store (or of a proxy or emulator standing in for it).

    Args:
        store_url: Base URL such as ``https://demo.myshopify.com``.
        api_version: ``YYYY-MM``.

    Returns:
        ``{store_url}/admin/api/{api_version}/graphql.json``.
    """
    return f"{store_url.rstrip('/')}/admin/api/{api_version}/graphql.json"


@dataclass
class ClientStats:
    """Counters a benchmark or progress log reads."""

    requests: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


class GraphQLClient:
    """Sends GraphQL documents to one store and returns their ``data``."""

    def __init__(
        self,
        endpoint: str,
        access_token: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        limiter: CostLimiter | None = None,
    ) -> None:
        """Configure the client; nothing is sent until :meth:`execute`.

        Args:
            endpoint: The GraphQL endpoint URL.
            access_token: The Admin API access token (kept only in the request header).
            timeout: Seconds per HTTP request.
            max_retries: Retries for transient errors (5xx, 429, connection errors).
            session: A requests session to reuse.
            clock: Monotonic clock, injected for tests.
            sleep: Sleep function, injected for tests.
            limiter: The cost limiter shared by every query of this store.
        """
        self.endpoint = endpoint
        self._session = session or requests.Session()
        self._session.headers.update(
            {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"}
        )
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep = sleep
        self.limiter = limiter or CostLimiter(clock=clock, sleep=sleep)
        self.stats = ClientStats()
        self._clock = clock
        # Shopify's clock from the last answer's Date header, and our clock when it came.
        self._server_date: tuple[float, float] | None = None

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        estimated_cost: float = 10.0,
    ) -> dict[str, Any]:
        """Run one query, waiting for budget and retrying transient failures.

        Args:
            query: The GraphQL document.
            variables: Its variables.
            estimated_cost: Points the query is expected to request.

        Returns:
            The response's ``data``, with its ``extensions`` under ``"__extensions"``.

        Raises:
            ShopifyRetriableError: When retries are exhausted.
        """
        error_retries = 0
        throttled_retries = 0
        payload = {"query": query, "variables": dict(variables or {})}
        while True:
            self.limiter.acquire(estimated_cost)
            try:
                return self._send(payload)
            except ShopifyThrottledError as error:
                throttled_retries += 1
                if throttled_retries > self._max_retries * THROTTLED_RETRIES_PER_ERROR_RETRY:
                    raise
                if error.requested_cost:
                    estimated_cost = error.requested_cost
            except ShopifyRetriableError as error:
                error_retries += 1
                self.stats.retries += 1
                if error_retries > self._max_retries:
                    msg = f"{error} (gave up after {self._max_retries} retries)"
                    raise ShopifyRetriableError(msg) from error
                delay = backoff_delay(error_retries - 1)
                LOGGER.warning("Retrying Shopify request in %.2fs: %s", delay, error)
                self._sleep(delay)

    def _send(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._post(payload)
        finally:
            # Answered (and its throttle status observed) or failed: no longer in flight.
            self.limiter.release()

    def _post(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.stats.requests += 1
        try:
            response = self._session.post(self.endpoint, json=payload, timeout=self._timeout)
        except TRANSPORT_ERRORS as error:
            msg = f"connection error talking to {self.endpoint}: {type(error).__name__}"
            raise ShopifyRetriableError(msg) from None
        self._observe_date(getattr(response, "headers", None) or {})
        _raise_for_http_status(response, self.endpoint)
        try:
            body = response.json()
        except ValueError:
            msg = f"non-JSON answer (HTTP {response.status_code}) from {self.endpoint}"
            raise ShopifyRetriableError(msg) from None
        return self._unwrap(body)

    def _unwrap(self, body: Mapping[str, Any]) -> dict[str, Any]:
        extensions = body.get("extensions") or {}
        cost = extensions.get("cost") or {}
        status = ThrottleStatus.from_extensions(extensions)
        errors = body.get("errors") or []
        if isinstance(errors, str):
            raise ShopifyFatalError(f"Shopify refused the request: {errors}")
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if "THROTTLED" in codes:
            self.limiter.on_throttled(status, cost.get("requestedQueryCost"))
            raise ShopifyThrottledError(cost.get("requestedQueryCost"))
        self.limiter.observe(status, cost.get("actualQueryCost"))
        if codes & RETRIABLE_CODES:
            raise ShopifyRetriableError(f"Shopify server error: {_messages(errors)}")
        raise_if_protected_data_denied(errors)
        if "MAX_COST_EXCEEDED" in codes:
            error = next(e for e in errors if (e.get("extensions") or {}).get("code"))
            cost = (error.get("extensions") or {}).get("cost")
            raise QueryCostExceededError(f"Shopify rejected the query: {_messages(errors)}", cost)
        if errors:
            if "ACCESS_DENIED" in codes:
                raise ShopifyAuthError(f"Shopify denied access: {_messages(errors)}")
            raise GraphQLQueryError(f"Shopify rejected the query: {_messages(errors)}")
        data: dict[str, Any] = dict(body.get("data") or {})
        data["__extensions"] = extensions
        return data

    def _observe_date(self, headers: Mapping[str, str]) -> None:
        raw = headers.get("Date")
        if not raw:
            return
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        self._server_date = (when.timestamp(), self._clock())

    def server_now(self) -> datetime:
        """Shopify's current time, estimated from the last answer's ``Date`` header.

        The header is whole seconds, so the estimate is at most one second behind
        Shopify's clock, never ahead of it. Before any answer: this machine's clock.

        Returns:
            An aware UTC datetime.
        """
        if self._server_date is None:
            return datetime.now(UTC)
        stamp, received = self._server_date
        return datetime.fromtimestamp(stamp + (self._clock() - received), UTC)

    def stream_lines(self, url: str) -> Iterator[bytes]:
        """Stream a bulk result file line by line (no token: the URL is pre-signed).

        Args:
            url: The result URL of a bulk operation.

        Yields:
            Each non-empty line as bytes.

        Raises:
            ShopifyRetriableError: On a transient failure (the caller restarts the file).
            BulkOperationExpiredError: When the signed URL has expired.
        """
        try:
            # A plain request, not the session: the signed URL must not get the token.
            with requests.get(url, stream=True, timeout=self._timeout) as response:
                if response.status_code == 403:
                    msg = "the bulk result URL has expired"
                    raise BulkOperationExpiredError(msg)
                if response.status_code != 200:
                    msg = f"HTTP {response.status_code} downloading a bulk result"
                    raise ShopifyRetriableError(msg)
                # requests reads 512 bytes per chunk by default: one urllib3 read per
                # half-line of JSONL. Large chunks cut the download's Python overhead.
                yield from (line for line in response.iter_lines(DOWNLOAD_CHUNK) if line)
        except TRANSPORT_ERRORS as error:
            msg = f"download of a bulk result broke off: {type(error).__name__}"
            raise ShopifyRetriableError(msg) from None

    def retry_delay(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (0-based), with full jitter.

        Args:
            attempt: How many retries happened before.

        Returns:
            Seconds to wait.
        """
        return backoff_delay(attempt)

    @property
    def max_retries(self) -> int:
        """Retries allowed for transient failures."""
        return self._max_retries

    def sleep(self, seconds: float) -> None:
        """Sleep with the injected sleep function.

        Args:
            seconds: How long.
        """
        self._sleep(seconds)


def _messages(errors: list[Mapping[str, Any]]) -> str:
    unique = dict.fromkeys(str(e.get("message", e)) for e in errors)
    return "; ".join(list(unique)[:5])


def _raise_for_http_status(response: requests.Response, endpoint: str) -> None:
    status = response.status_code
    if status == 200:
        return
    if status in {401, 403}:
        msg = (
            f"Shopify answered HTTP {status} for {endpoint}: the access token is invalid, "
            "revoked or lacks access. Check the `access_token` setting (its value is not "
            "shown) and that the app is installed on this store."
        )
        raise ShopifyAuthError(msg)
    if status in RETRIABLE_STATUS:
        raise ShopifyRetriableError(f"HTTP {status} from {endpoint}")
    reasons = {402: "the shop is frozen (payment required)", 404: "not found", 423: "locked"}
    msg = f"Shopify answered HTTP {status} for {endpoint}: {reasons.get(status, 'error')}"
    raise ShopifyFatalError(msg)
