"""The receiver's errors, grouped by what the caller does about them."""

from __future__ import annotations


class WebhooksError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(WebhooksError):
    """Fatal: a setting is missing or wrong; fix the configuration and start again."""


class QueueNotFoundError(WebhooksError):
    """Fatal for a reader: the URL holds no webhook queue (a wrong URL, or no receiver yet)."""
