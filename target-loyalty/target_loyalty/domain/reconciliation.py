"""How a run ends: the tap's manifest against what this target received and did.

The tap's ``sync_manifest`` says, per stream and part, what Shopify counted before and
after the read, what it emitted and what it left out by reason. A run succeeds only when
every part reconciles at the source and every stream at the target (see
docs/record-contract.md); a run without a manifest for a stream it received did not end.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence

from target_runtime.reconciliation import (
    CONTRACT_STREAMS,
    Check,
    CheckStatus,
    ManifestPart,
    StreamTally,
    source_status,
    status_of,
)

__all__ = [
    "DATA_STREAMS",
    "Check",
    "CheckStatus",
    "ManifestPart",
    "RunStatus",
    "StreamTally",
    "reconcile",
    "source_check",
    "target_checks",
]

#: The tap's streams whose records a manifest must account for.
DATA_STREAMS = CONTRACT_STREAMS


class RunStatus(enum.StrEnum):
    """How a target run ended, per shop."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNRECONCILED = "unreconciled"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    REFUSED = "refused"
    ABANDONED = "abandoned"


def source_check(part: ManifestPart) -> Check:
    """``after <= emitted + excluded <= before``: the tap read what Shopify counted."""
    status = source_status(part)
    if status is CheckStatus.HELD:
        detail = (
            f"Shopify counted {part.shopify_count_before} before and "
            f"{part.shopify_count_after} after the roster read: deletions held"
        )
    else:
        detail = (
            f"Shopify counted {part.shopify_count_before} before and {part.shopify_count_after} "
            f"after; the tap emitted {part.emitted} and excluded {part.accounted - part.emitted}"
        )
    return Check(part.stream, f"source:{part.part}", status, detail)


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
            status_of(received_ok),
            f"the tap emitted {emitted}, the target received {tally.received}",
        ),
        Check(
            stream,
            "accounted",
            status_of(accounted_ok),
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
