"""The tap's exceptions, on singer-sdk's bases: fatal ends the run with a clear message."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError


class ShopifySyncError(FatalAPIError):
    """A Shopify error the run cannot continue past (message names the cause, no secrets)."""


class TapSettingsError(ConfigValidationError):
    """A setting is missing or invalid."""


class WebhookQueueError(FatalAPIError):
    """The webhook queue cannot be read (the message never shows its URL)."""
