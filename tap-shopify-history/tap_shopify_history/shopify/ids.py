"""Shopify global ids (``gid://shopify/Order/1001``) and numeric ids."""

from __future__ import annotations

_PREFIX = "gid://shopify/"


def gid_to_id(gid: str | None) -> int | None:
    """Return the numeric id at the end of a gid, or None for None.

    Args:
        gid: A Shopify global id such as ``gid://shopify/Customer/42``.

    Returns:
        The numeric id, e.g. ``42``.

    Raises:
        ValueError: If ``gid`` is not a Shopify gid with a numeric tail.
    """
    if gid is None:
        return None
    if not gid.startswith(_PREFIX):
        msg = f"not a Shopify gid: {gid!r}"
        raise ValueError(msg)
    tail = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    if not tail.isdigit():
        msg = f"Shopify gid without a numeric id: {gid!r}"
        raise ValueError(msg)
    return int(tail)


def id_to_gid(resource: str, numeric_id: int) -> str:
    """Build the gid of a resource, e.g. ``id_to_gid("Order", 1)``.

    Args:
        resource: The GraphQL type name (``Customer``, ``Order``...).
        numeric_id: The numeric (legacy resource) id.

    Returns:
        The gid string.
    """
    return f"{_PREFIX}{resource}/{int(numeric_id)}"


def gid_type(gid: str) -> str:
    """Return the resource type named in a gid (``gid://shopify/LineItem/1`` -> ``LineItem``).

    Args:
        gid: A Shopify global id.

    Returns:
        The type segment of the gid.
    """
    if not gid.startswith(_PREFIX):
        msg = f"not a Shopify gid: {gid!r}"
        raise ValueError(msg)
    return gid[len(_PREFIX) :].split("/", 1)[0]
