"""How a run ends: the tap's manifest against what this target received and did.

The tap's ``sync_manifest`` says, per stream and part, what Shopify counted before and
after the read, what it emitted and what it left out by reason. A run succeeds only when
every part reconciles at the source and every stream at the target (see
docs/record-contract.md); a run without a manifest for a stream it received did not end.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: The tap's streams whose records a manifest must account for.
DATA_STREAMS = ("customers", "orders", "customer_roster")


class RunStatus(enum.StrEnum):
    """How a target run ended, per shop."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNRECONCILED = "unreconciled"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    REFUSED = "refused"
    ABANDONED = "abandoned"


class CheckStatus(enum.StrEnum):
    """A check's verdict; ``HELD`` is informative (roster deletions waiting) and passes."""

    OK = "OK"
    FAIL = "FAIL"
    HELD = "HELD"


@dataclass(frozen=True)
class ManifestPart:
    """One ``sync_manifest`` row: the tap's account of one stream part."""

    stream: str
    part: str
    shopify_count_before: int
    shopify_count_after: int
    emitted: int
    excluded: Mapping[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        """Records Shopify counted that the tap emitted or excluded with a reason."""
        return self.emitted + sum(self.excluded.values())


@dataclass(frozen=True)
class StreamTally:
    """What this target run did with one stream's records."""

    stream: str
    received: int = 0
    applied: int = 0
    quarantined: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        """Records applied, skipped with a reason, or quarantined."""
        return self.applied + self.quarantined + sum(self.skipped.values())


@dataclass(frozen=True)
class Check:
    """One reconciliation check of a run, naming the stream and the numbers."""

    stream: str
    name: str
    status: CheckStatus
    detail: str

    def __str__(self) -> str:
        return f"{self.stream} {self.name} {self.status.value}: {self.detail}"


def source_check(part: ManifestPart) -> Check:
    """``after <= emitted + excluded <= before``: the tap read what Shopify counted."""
    if part.stream == "customer_roster" and part.shopify_count_before != part.shopify_count_after:
        # A roster is a snapshot of the whole store, not a window: a customer created or
        # deleted during its read moves the count, which only holds the roster's deletions
        # until a later run; data is lost only when the store held still and the tap still
        # read a different number.
        detail = (
            f"Shopify counted {part.shopify_count_before} before and "
            f"{part.shopify_count_after} after the roster read: deletions held"
        )
        return Check(part.stream, f"source:{part.part}", CheckStatus.HELD, detail)
    ok = part.shopify_count_after <= part.accounted <= part.shopify_count_before
    detail = (
        f"Shopify counted {part.shopify_count_before} before and {part.shopify_count_after} "
        f"after; the tap emitted {part.emitted} and excluded {part.accounted - part.emitted}"
    )
    return Check(
        part.stream, f"source:{part.part}", CheckStatus.OK if ok else CheckStatus.FAIL, detail
    )


def target_checks(stream: str, parts: Sequence[ManifestPart], tally: StreamTally) -> list[Check]:
    """``received == emitted`` and ``received == applied + skipped + quarantined``."""
    emitted = sum(p.emitted for p in parts)
    received_ok = tally.received == emitted
    accounted_ok = tally.received == tally.accounted
    skipped = sum(tally.skipped.values())
    return [
        Check(
            stream,
            "received",
            CheckStatus.OK if received_ok else CheckStatus.FAIL,
            f"the tap emitted {emitted}, the target received {tally.received}",
        ),
        Check(
            stream,
            "accounted",
            CheckStatus.OK if accounted_ok else CheckStatus.FAIL,
            f"received {tally.received} = applied {tally.applied} + skipped {skipped} + "
            f"quarantined {tally.quarantined}"
            + ("" if accounted_ok else f" does not hold ({tally.accounted})"),
        ),
    ]


def reconcile(
    parts: Iterable[ManifestPart], tallies: Mapping[str, StreamTally]
) -> tuple[RunStatus, list[Check]]:
    """The run's status and its checks, from the manifest and what the target did.

    Args:
        parts: The manifest rows this run received for the shop.
        tallies: What the run did, per stream.

    Returns:
        ``succeeded`` when every check passes, ``incomplete`` when a stream the run
        received (or the whole run) has no manifest, else ``unreconciled``.
    """
    by_stream: dict[str, list[ManifestPart]] = {}
    for part in parts:
        by_stream.setdefault(part.stream, []).append(part)
    received = [s for s in DATA_STREAMS if tallies.get(s, StreamTally(s)).received > 0]
    checks: list[Check] = []
    missing = [s for s in received if s not in by_stream]
    for stream in missing if by_stream else received or ["(all)"]:
        checks.append(
            Check(stream, "manifest", CheckStatus.FAIL, "no sync_manifest: the tap did not finish")
        )
    for stream in (s for s in DATA_STREAMS if s in by_stream):
        checks.extend(source_check(p) for p in by_stream[stream])
        checks.extend(
            target_checks(stream, by_stream[stream], tallies.get(stream, StreamTally(stream)))
        )
    if not by_stream or missing:
        return RunStatus.INCOMPLETE, checks
    failed = any(c.status is CheckStatus.FAIL for c in checks)
    return (RunStatus.UNRECONCILED if failed else RunStatus.SUCCEEDED), checks
