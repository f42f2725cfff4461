"""A run proven against Shopify's counts: the tap's `sync_manifest` and what the target saw.

See docs/record-contract.md, "sync_manifest". A run ends ``succeeded`` only when the input
carried a manifest for every contract stream it received and every check below holds;
``unreconciled`` when a check fails (the data that arrived is committed); ``incomplete`` when
the input ended without a manifest (the tap was killed or failed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from target_runtime.reconciliation import (
    CONTRACT_STREAMS,
    Check,
    CheckStatus,
    ManifestCounts,
    StreamTally,
    source_status,
    status_of,
)

__all__ = [
    "APPLIED_OUTCOMES",
    "CONTRACT_STREAMS",
    "QUARANTINED_OUTCOME",
    "SEVERITY",
    "SKIPPED_OUTCOME",
    "Assessment",
    "Check",
    "CheckStatus",
    "ManifestPart",
    "RunOutcome",
    "StreamTally",
    "assess_run",
    "sync_end",
    "tally_streams",
    "worst",
]
# Record outcomes of run_stats, by what they mean for the target's own check.
APPLIED_OUTCOMES = frozenset({"created", "updated", "unchanged", "listed"})
SKIPPED_OUTCOME = "skipped"
QUARANTINED_OUTCOME = "rejected"


class RunOutcome(StrEnum):
    """How a target run ended (README "Rules")."""

    SUCCEEDED = "succeeded"
    UNRECONCILED = "unreconciled"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    REFUSED = "refused"


# The run's status is its worst shop's outcome.
SEVERITY = {
    RunOutcome.SUCCEEDED: 0,
    RunOutcome.INCOMPLETE: 1,
    RunOutcome.UNRECONCILED: 2,
    RunOutcome.FAILED: 3,
    RunOutcome.REFUSED: 4,
}


@dataclass(frozen=True)
class ManifestPart(ManifestCounts):
    """One `sync_manifest` record: the tap's account of one stream and part of its run.

    The runtime's counts and rules on them (``accounted``, ``source_reconciles``,
    ``roster_complete``), with what the CRM keeps of the record: the shop, the tap's run,
    its selection and windows.
    """

    shop_domain: str
    run_id: str
    stream: str
    part: str
    selection: str
    window_start: datetime | None
    window_end: datetime | None
    shopify_count_before: int
    shopify_count_after: int
    emitted: int
    excluded: Mapping[str, int]
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class Assessment:
    """A shop's outcome in a run, its checks and, unless it succeeded, why."""

    outcome: RunOutcome
    checks: tuple[Check, ...]
    message: str = ""


def tally_streams(stats: Iterable[tuple[str, str, str, int]]) -> dict[str, StreamTally]:
    """Per-stream tallies from a shop's run statistics ``(stream, outcome, reason, count)``.

    Args:
        stats: The shop's `run_stats` rows of this run.

    Returns:
        stream -> received, applied, skipped by reason, quarantined.
    """
    received: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    quarantined: Counter[str] = Counter()
    skipped: dict[str, Counter[str]] = {}
    for stream, outcome, reason, count in stats:
        skipped.setdefault(stream, Counter())
        if outcome == "received":
            received[stream] += count
        elif outcome in APPLIED_OUTCOMES:
            applied[stream] += count
        elif outcome == SKIPPED_OUTCOME:
            skipped[stream][reason] += count
        elif outcome == QUARANTINED_OUTCOME:
            quarantined[stream] += count
    return {
        stream: StreamTally(
            stream, received[stream], applied[stream], dict(reasons), quarantined[stream]
        )
        for stream, reasons in skipped.items()
    }


def _source_check(part: ManifestPart) -> Check:
    detail = (
        f"shopify_count_after {part.shopify_count_after} <= emitted {part.emitted} + "
        f"excluded {sum(part.excluded.values())} <= shopify_count_before "
        f"{part.shopify_count_before}"
    )
    return Check(
        part.stream,
        "source reconciles with Shopify's count",
        source_status(part),
        detail,
        part=part.part,
        expected=part.shopify_count_before,
        actual=part.accounted,
    )


def _target_checks(stream: str, emitted: int, tally: StreamTally) -> list[Check]:
    skipped = sum(tally.skipped.values())
    return [
        Check(
            stream,
            "received what the tap emitted",
            status_of(tally.received == emitted),
            f"emitted {emitted}, received {tally.received}",
            expected=emitted,
            actual=tally.received,
        ),
        Check(
            stream,
            "every received record accounted for",
            status_of(tally.received == tally.accounted),
            f"received {tally.received} = applied {tally.applied} + skipped {skipped} + "
            f"quarantined {tally.quarantined}",
            expected=tally.received,
            actual=tally.accounted,
        ),
    ]


def assess_run(
    shop_domain: str, parts: Iterable[ManifestPart], tallies: Mapping[str, StreamTally]
) -> Assessment:
    """Decide a shop's run outcome from its manifest and the target's tallies.

    Args:
        shop_domain: The shop.
        parts: The manifest records this run received for the shop.
        tallies: What the target did per stream (``tally_streams``).

    Returns:
        ``succeeded``, ``unreconciled`` (naming the failed checks) or ``incomplete``.
    """
    parts = list(parts)
    by_stream: dict[str, list[ManifestPart]] = {}
    for part in parts:
        by_stream.setdefault(part.stream, []).append(part)
    received = [s for s in CONTRACT_STREAMS if tallies.get(s, StreamTally(s)).received > 0]
    missing = [s for s in received if s not in by_stream]
    if not parts or missing:
        what = "no sync_manifest" if not parts else f"no sync_manifest for {', '.join(missing)}"
        return Assessment(RunOutcome.INCOMPLETE, (), f"{shop_domain}: the input ended with {what}")
    checks = [_source_check(p) for p in parts]
    for stream in sorted(by_stream, key=_stream_order):
        emitted = sum(p.emitted for p in by_stream[stream])
        checks.extend(_target_checks(stream, emitted, tallies.get(stream, StreamTally(stream))))
    failed = [c for c in checks if not c.ok]
    if not failed:
        return Assessment(RunOutcome.SUCCEEDED, tuple(checks))
    named = "; ".join(
        f"{c.stream}{'/' + c.part if c.part else ''}: {c.name}: {c.detail}" for c in failed
    )
    return Assessment(RunOutcome.UNRECONCILED, tuple(checks), f"{shop_domain}: {named}")


def _stream_order(stream: str) -> int:
    return CONTRACT_STREAMS.index(stream) if stream in CONTRACT_STREAMS else len(CONTRACT_STREAMS)


def worst(outcomes: Iterable[RunOutcome]) -> RunOutcome:
    """The run's status: its worst shop outcome (``incomplete`` for a run with no shop).

    Args:
        outcomes: Each shop's outcome.

    Returns:
        The most severe outcome.
    """
    return max(outcomes, key=SEVERITY.__getitem__, default=RunOutcome.INCOMPLETE)


def sync_end(parts: Iterable[ManifestPart], newest_seen: datetime | None) -> datetime | None:
    """Up to when a complete sync read the shop: its cut-over for the silent backfill.

    The newest of the windows' upper bounds and the newest Shopify time the run saw; a
    manifest without windows (a roster only) falls back to when the tap finished.

    Args:
        parts: The shop's manifest parts in this run.
        newest_seen: The newest ``updated_at`` among the records received, if any.

    Returns:
        The cut-over, or None when nothing tells.
    """
    parts = list(parts)
    marks = [p.window_end for p in parts if p.window_end is not None]
    if newest_seen is not None:
        marks.append(newest_seen)
    if not marks:
        marks = [p.finished_at for p in parts]
    return max(marks, default=None)
