"""pytest fixtures: running MoEngage and Ometria stand-ins (``platform_standins``).

Registered by the testkit plugin, so tests get them without imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def standin_factory() -> Iterator[Callable[..., Any]]:
    """Start stand-ins on demand: ``standin_factory("moengage" | "ometria", **options)``.

    Options are the stand-in's constructor arguments (``api_key``, ``workspace_id``, and
    any limit, e.g. ``processing_delay_seconds=0``). Every one started is stopped at
    teardown.
    """
    from platform_standins import MoEngageStandin, OmetriaStandin  # noqa: PLC0415

    kinds = {"moengage": MoEngageStandin, "ometria": OmetriaStandin}
    started: list[Any] = []

    def start(platform: str, **options: Any) -> Any:
        if platform not in kinds:
            raise ValueError(f"unknown platform {platform!r}; use one of {sorted(kinds)}")
        server = kinds[platform](**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def moengage_standin(standin_factory: Callable[..., Any]) -> Any:
    """A running MoEngage workspace with the documented limits and a random Data API key.

    Use ``.base_url`` (the ``moengage_api_url`` setting), ``.workspace_id``, ``.api_key``,
    ``.transition_url``, ``.auth_headers()`` and ``.control``.
    """
    return standin_factory("moengage")


@pytest.fixture
def ometria_standin(standin_factory: Callable[..., Any]) -> Any:
    """A running Ometria account with the documented limits and a random API key.

    Use ``.base_url`` (the ``ometria_api_url`` setting), ``.api_key``, ``.push_url``,
    ``.auth_headers()`` and ``.control``.
    """
    return standin_factory("ometria")
