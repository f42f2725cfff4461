"""When a roster version may delete: complete, not stale, and within the deletion share.

Shopify has no deletion feed; a customer missing from a roster version was deleted or
merged away. A roster that is short for any reason (the tap was killed, the store changed
during the read, a different store's output) would wipe live accounts, so a version is
applied only on its complete manifest row, and never when it would delete more than
``max_roster_deletion_share`` of the shop's live accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from target_loyalty.domain.reconciliation import Check, CheckStatus, ManifestPart

ROSTER = "customer_roster"


@dataclass(frozen=True)
class RosterVersion:
    """One roster version as this run received it.

    Attributes:
        version: The ACTIVATE_VERSION number (milliseconds; newer is larger).
        received: Roster records of this version stored (parsed, not quarantined).
        manifest: The tap's manifest row for the roster, if it arrived.
        last_applied: The newest version already applied for the shop, if any.
    """

    version: int
    received: int
    manifest: ManifestPart | None
    last_applied: int | None = None


def roster_check(roster: RosterVersion) -> Check:
    """``OK`` when the version may be applied; ``HELD`` (deletions wait) otherwise."""
    m = roster.manifest
    if roster.last_applied is not None and roster.version < roster.last_applied:
        return _held(roster, f"older than the applied version {roster.last_applied}: stale")
    if m is None:
        return _held(roster, "no sync_manifest row for customer_roster arrived")
    counts = (m.emitted, m.shopify_count_before, m.shopify_count_after)
    if len(set(counts)) != 1:
        return _held(
            roster,
            f"incomplete: emitted {m.emitted}, Shopify counted {m.shopify_count_before} before "
            f"and {m.shopify_count_after} after the read",
        )
    if roster.received != m.emitted:
        return _held(
            roster,
            f"incomplete: the tap emitted {m.emitted}, the target received {roster.received}",
        )
    return Check(
        ROSTER,
        "roster_complete",
        CheckStatus.OK,
        f"version {roster.version}: {m.emitted} customers, as Shopify counted",
    )


def _held(roster: RosterVersion, why: str) -> Check:
    return Check(
        ROSTER,
        "roster_complete",
        CheckStatus.HELD,
        f"version {roster.version} not applied, deletions held: {why}",
    )


def deletion_refusal(shop: str, deletions: int, live: int, max_share: float) -> str | None:
    """The message refusing a roster that deletes too much, or None when it may apply.

    Args:
        shop: The shop.
        deletions: Live accounts the version would soft-delete or merge away.
        live: The shop's live accounts before applying it.
        max_share: ``max_roster_deletion_share``.
    """
    if live == 0 or deletions / live <= max_share:
        return None
    return (
        f"roster of {shop} would delete {deletions:,} of {live:,} live accounts "
        f"({deletions / live:.1%}), more than max_roster_deletion_share={max_share}; "
        "set it higher to allow this"
    )
