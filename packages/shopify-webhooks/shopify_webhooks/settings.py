"""The receiver's settings, read once into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shopify_webhooks.exceptions import ConfigurationError

SECRET_ENV = "SHOPIFY_WEBHOOKS_CLIENT_SECRET"  # noqa: S105 - the variable's name
PREVIOUS_SECRET_ENV = "SHOPIFY_WEBHOOKS_PREVIOUS_CLIENT_SECRET"  # noqa: S105 - a name
DATABASE_URL_ENV = "SHOPIFY_WEBHOOKS_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///output/shopify-webhooks.db"
# Shopify counts a delivery failed without a 2xx within 5 s; answering 503 before 4 s
# leaves a second for the network, and Shopify retries what got a 503.
DEFAULT_ANSWER_BUDGET_SECONDS = 4.0
# Shopify's largest payloads (orders with hundreds of lines) stay well below this.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ReceiverSettings:
    """What ``serve`` needs.

    Attributes:
        database_url: the queue's database (may carry a password: never printed).
        secrets: the app's client secret, then the previous one while rotating.
        answer_budget_seconds: answer 503 when the write has not committed by then.
        max_body_bytes: larger bodies get 413 without being read.
    """

    database_url: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    answer_budget_seconds: float = DEFAULT_ANSWER_BUDGET_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def database_url_from(environ: Mapping[str, str], given: str | None = None) -> str:
    """The queue URL: the option, else the environment, else the local SQLite file."""
    url = given if given is not None else environ.get(DATABASE_URL_ENV)
    if url is None:
        return DEFAULT_DATABASE_URL
    if not url.strip():
        raise ConfigurationError(f"the database URL is empty; set {DATABASE_URL_ENV}")
    return url


def settings_from_environment(
    environ: Mapping[str, str] | None = None,
    *,
    database_url: str | None = None,
    answer_budget_seconds: float = DEFAULT_ANSWER_BUDGET_SECONDS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> ReceiverSettings:
    """Settings from the environment; the secret is only ever read from there.

    Raises:
        ConfigurationError: no client secret, or an empty database URL.
    """
    environ = os.environ if environ is None else environ
    secret = environ.get(SECRET_ENV, "")
    if not secret:
        raise ConfigurationError(f"set {SECRET_ENV} to the app's client secret")
    previous = environ.get(PREVIOUS_SECRET_ENV, "")
    if answer_budget_seconds <= 0:
        raise ConfigurationError("the answer budget must be positive")
    return ReceiverSettings(
        database_url=database_url_from(environ, database_url),
        secrets=(secret, previous) if previous else (secret,),
        answer_budget_seconds=answer_budget_seconds,
        max_body_bytes=max_body_bytes,
    )
