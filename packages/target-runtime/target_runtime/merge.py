"""Who owns a merged customer's orders: the one rule a target reads when a roster merges.

A merge in Shopify deletes one customer and moves its orders to the customer kept, so the
orders stream shows them with a new ``customer_id``. A customer absent from a complete
roster whose former orders now belong to someone else was merged into that customer; one
whose orders did not move was deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class OrderOwnerChange:
    """One stored order of a customer that left the roster, and who owns it now.

    Attributes:
        previous_customer_id: The customer the order belonged to before its latest version.
        customer_id: The customer its latest version names (None: a guest order now).
    """

    previous_customer_id: int
    customer_id: int | None


def merged_owner(departed: int, orders: Iterable[OrderOwnerChange]) -> int | None:
    """The customer that now owns most of ``departed``'s former orders, if any.

    Orders of other former owners, orders that are guest orders now and orders still
    naming ``departed`` do not count. When two customers own as many, the lower id wins,
    so the answer does not depend on the order the facts were read in.

    Args:
        departed: The customer absent from the roster.
        orders: The stored orders whose former owner is ``departed`` (others are ignored).

    Returns:
        The customer that kept ``departed``'s orders, or None: ``departed`` was deleted.
    """
    owners = Counter(
        o.customer_id
        for o in orders
        if o.previous_customer_id == departed
        and o.customer_id is not None
        and o.customer_id != departed
    )
    if not owners:
        return None
    return min(owners, key=lambda owner: (-owners[owner], owner))
