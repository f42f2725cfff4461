"""A target's ``database_url`` setting: only an absent setting falls back to the default.

Meltano passes a setting bound to an unset environment variable as an empty string; falling
back to the local default then would write a production run into a local SQLite file, so a
present but empty or blank setting is an error. Each target words that error itself (naming
its own store and environment variable) and raises its own configuration error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SETTING = "database_url"


class EmptyDatabaseUrlError(ValueError):
    """The ``database_url`` setting is present but empty, blank or not a string."""


def database_url_from_config(config: Mapping[str, Any], default: str) -> str:
    """The store's SQLAlchemy URL: the setting (stripped), or ``default`` when it is absent.

    Args:
        config: The target's configuration.
        default: The target's local default (a SQLite file).

    Returns:
        The URL.

    Raises:
        EmptyDatabaseUrlError: the setting is present but empty, blank or not a string.
    """
    if SETTING not in config:
        return default
    url = config[SETTING]
    if not isinstance(url, str) or not url.strip():
        msg = f"setting {SETTING} is present but empty"
        raise EmptyDatabaseUrlError(msg)
    return url.strip()
