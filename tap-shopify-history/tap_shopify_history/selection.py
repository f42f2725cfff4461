"""Which records a read emits, and why the others are left out (pure rules, no I/O).

Every record Shopify counts under a part's selection is either emitted or excluded for one
named reason, so the manifest accounts for all of them (docs/record-contract.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEST_ORDER = "test_order"
OUTSIDE_SYNC_RANGE = "outside_sync_range"
ALREADY_EMITTED = "already_emitted"
REFUNDS_UNCHANGED = "refunds_unchanged"
# Not a manifest reason: Shopify returned a record its own filter excludes (the count
# did not include it either), so it is logged, not counted.
OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True)
class SelectionRules:
    """What a stream emits.

    Attributes:
        include_test_orders: Emit test orders (else counted ``test_order``).
        range_start: Orders placed (``created_at``) before this are counted
            ``outside_sync_range``; None: no range (customers, ``all_time``, ``start_date``).
    """

    include_test_orders: bool = False
    range_start: str | None = None

    def exclusion(self, record: Mapping[str, Any]) -> str | None:
        """Why a record is left out whatever its version (None: it belongs to the sync).

        Test orders are named first: a test order is a test order whatever its date.

        Args:
            record: A tap record (``test``, ``created_at`` on orders).

        Returns:
            ``test_order``, ``outside_sync_range`` or None.
        """
        if record.get("test") and not self.include_test_orders:
            return TEST_ORDER
        created_at = record.get("created_at")
        if (
            self.range_start is not None
            and created_at is not None
            and created_at < self.range_start
        ):
            return OUTSIDE_SYNC_RANGE
        return None


def window_exclusion(
    updated_at: str, *, lower: str | None, upper: str | None, emitted_before: bool
) -> str | None:
    """Why a version inside a read is not emitted (None: emit it).

    Args:
        updated_at: The record's ``updated_at``.
        lower: Versions before this were emitted earlier (the window start, or how far a
            resumed bulk job got).
        upper: The window's exclusive end.
        emitted_before: Whether this exact version is in the bookmark's edge set.

    Returns:
        ``already_emitted``, ``outside_window`` or None.
    """
    if upper is not None and updated_at >= upper:
        return OUTSIDE_WINDOW
    if (lower is not None and updated_at < lower) or emitted_before:
        return ALREADY_EMITTED
    return None
