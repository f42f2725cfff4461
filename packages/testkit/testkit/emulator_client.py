"""A tiny GraphQL client for tests that talk to the emulator over HTTP."""

from __future__ import annotations

from typing import Any

import requests


def graphql(
    server: Any,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    version: str = "2025-01",
    timeout: float = 30,
) -> requests.Response:
    """POST a GraphQL request to a running ``EmulatorServer``; returns the raw response."""
    return requests.post(
        f"{server.base_url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token if token is not None else server.token},
        timeout=timeout,
    )


def control(server: Any, method: str, **kwargs: Any) -> Any:
    """Call the HTTP control API (``POST /_emulator/<method>``); returns ``result``."""
    response = requests.post(f"{server.base_url}/_emulator/{method}", json=kwargs, timeout=30)
    response.raise_for_status()
    return response.json()["result"]
