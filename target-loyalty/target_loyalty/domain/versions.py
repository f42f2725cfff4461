"""Newer wins: which version of an order or customer a sync keeps."""

from __future__ import annotations

from datetime import datetime


def newer_known_version(incoming: datetime, *known: datetime | None) -> datetime | None:
    """The newest known version when ``incoming`` is older than it, else None.

    A version older (``updated_at``) than the one stored, or than one already taken
    from the same batch, changes nothing and is counted ``stale_version``: so a replay,
    or input split into batches or runs in any way, never flips a record back and forth.
    A version as new as the known one is applied again (it carries the same facts).

    Args:
        incoming: The ``updated_at`` of the version received.
        known: The ``updated_at`` of the versions already kept (None: none kept there).

    Returns:
        The newest known version that makes ``incoming`` stale, or None to apply it.
    """
    kept = [version for version in known if version is not None]
    if not kept or incoming >= max(kept):
        return None
    return max(kept)
