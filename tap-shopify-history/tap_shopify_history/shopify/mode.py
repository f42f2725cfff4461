"""``auto`` extraction: bulk or pages, from what pages would cost the store's API budget.

Pages draw on the app's leaky bucket: a read of ``n`` records at ``p`` points each spends
``n x p`` points, of which the bucket's current level is paid at once and the rest at the
plan's restore rate (standard 100 points/s, advanced 200, Plus 1,000). A bulk operation
spends no bucket points on its records and takes about ``BULK_JOB_SECONDS`` (start, run,
poll, download) however few there are. So pages win while the wait they would cause is
shorter than a bulk job, and bulk wins beyond: on the standard plan at 75 points an order,
from about 67 orders above a full bucket (2,000 points) on; on Plus, from about 670.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a small bulk operation takes end to end: Shopify starts and finishes one in seconds
# to tens of seconds, and the tap polls it at growing intervals.
BULK_JOB_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ModeChoice:
    """The decision and the two estimates it compared."""

    use_bulk: bool
    paged_seconds: float
    bulk_seconds: float


def choose_extraction(
    records: int,
    points_per_record: float,
    restore_rate: float,
    available: float,
    bulk_seconds: float = BULK_JOB_SECONDS,
) -> ModeChoice:
    """Bulk when pages would wait on the bucket longer than a bulk job takes.

    Args:
        records: Records the read covers (Shopify's count).
        points_per_record: Actual cost of one record in pages (measured, else estimated).
        restore_rate: The plan's restore rate, points per second.
        available: Points in the bucket now.
        bulk_seconds: Expected duration of a bulk operation.

    Returns:
        The choice, with ``paged_seconds = max(0, records x points - available) / restore``.

    Example:
        >>> choose_extraction(100, 75.0, 100.0, 2000.0).use_bulk  # 55 s of waiting
        True
        >>> choose_extraction(20, 75.0, 100.0, 2000.0).use_bulk  # the bucket pays it
        False
    """
    points = records * points_per_record
    if restore_rate <= 0:
        paged = 0.0 if points <= available else float("inf")
    else:
        paged = max(0.0, points - available) / restore_rate
    return ModeChoice(paged > bulk_seconds, paged, bulk_seconds)
