"""Manifest reconciliation: the tap's ``sync_manifest`` against what a target did. Pure.

The tap's ``sync_manifest`` says, per stream and part, what Shopify counted before and after
the read, what it emitted and what it left out by reason (docs/record-contract.md). The rules
here are the contract's, the same for every target: the source check, the roster-hold rule and
the target's own two counts. How a target names its checks, words their details and decides a
run's status from them stays in the target.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The tap's streams whose records a manifest must account for.
CONTRACT_STREAMS = ("customers", "orders", "customer_roster")
ROSTER = "customer_roster"


class CheckStatus(enum.StrEnum):
    """A check's verdict; ``HELD`` is informative (roster deletions waiting) and passes."""

    OK = "OK"
    FAIL = "FAIL"
    HELD = "HELD"


class ManifestCounts:
    """The counts of one ``sync_manifest`` row and the contract's rules on them.

    A base for a target's own manifest record with more fields (in its own order): it
    declares the attributes it reads, and a dataclass subclass supplies them.
    """

    stream: str
    shopify_count_before: int
    shopify_count_after: int
    emitted: int
    excluded: Mapping[str, int]

    @property
    def accounted(self) -> int:
        """Records Shopify counted that the tap emitted or excluded with a reason."""
        return self.emitted + sum(self.excluded.values())

    @property
    def roster_held(self) -> bool:
        """A roster whose count moved during its read: its deletions wait for a later run.

        A roster is a snapshot of the whole store, not a window: a customer created or
        deleted during its read moves the count, which only holds the roster's deletions
        until a later run; data is lost only when the store held still and the tap still
        read a different number.
        """
        return self.stream == ROSTER and self.shopify_count_before != self.shopify_count_after

    @property
    def source_reconciles(self) -> bool:
        """``after <= emitted + excluded <= before``, or a held roster (which passes)."""
        if self.roster_held:
            return True
        return self.shopify_count_after <= self.accounted <= self.shopify_count_before

    @property
    def roster_complete(self) -> bool:
        """A roster read while the store did not change: ``emitted == before == after``."""
        return self.emitted == self.shopify_count_before == self.shopify_count_after


@dataclass(frozen=True)
class ManifestPart(ManifestCounts):
    """One ``sync_manifest`` row: the tap's account of one stream part."""

    stream: str
    part: str
    shopify_count_before: int
    shopify_count_after: int
    emitted: int
    excluded: Mapping[str, int] = field(default_factory=dict)


def source_status(part: ManifestCounts) -> CheckStatus:
    """The source check's verdict: ``HELD`` for a held roster, else ``OK`` or ``FAIL``."""
    if part.roster_held:
        return CheckStatus.HELD
    return CheckStatus.OK if part.source_reconciles else CheckStatus.FAIL


@dataclass(frozen=True)
class StreamTally:
    """What a target run did with one stream's records (of one shop)."""

    stream: str
    received: int = 0
    applied: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    quarantined: int = 0

    @property
    def accounted(self) -> int:
        """Records applied, skipped with a reason, or quarantined."""
        return self.applied + sum(self.skipped.values()) + self.quarantined


def status_of(ok: bool) -> CheckStatus:
    """``OK`` or ``FAIL``."""
    return CheckStatus.OK if ok else CheckStatus.FAIL


@dataclass(frozen=True)
class Check:
    """One reconciliation check of a run, naming the stream and the numbers.

    ``part`` names the manifest part a source check is about (empty for a stream's
    checks); ``expected`` and ``actual`` are the two numbers compared, for a target that
    stores them.
    """

    stream: str
    name: str
    status: CheckStatus
    detail: str
    part: str = ""
    expected: int | None = None
    actual: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the check passes (``HELD`` passes)."""
        return self.status is not CheckStatus.FAIL

    def __str__(self) -> str:
        return f"{self.stream} {self.name} {self.status.value}: {self.detail}"
