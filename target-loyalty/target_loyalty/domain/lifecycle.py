"""Signup bonus, expiry, merges, soft deletion and purge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from target_loyalty.domain.model import ONE_TIME_KINDS, EntryKind, LedgerEntry, LoyaltyRules

SIGNUP_SOURCE = "signup"


def signup_entry(
    customer_id: int, created_at: datetime, program_start: datetime, rules: LoyaltyRules
) -> LedgerEntry | None:
    """The once-per-lifetime signup bonus, or None when the customer gets none.

    Customers created before the program started only get it when
    ``signup_bonus_existing_customers`` is on. The fixed source makes it once per
    lifetime: the (customer, source, kind) key forbids a second one.
    """
    if rules.signup_bonus_points <= 0:
        return None
    if created_at < program_start and not rules.signup_bonus_existing_customers:
        return None
    return LedgerEntry(
        customer_id=customer_id,
        source=SIGNUP_SOURCE,
        kind=EntryKind.SIGNUP_BONUS,
        points=rules.signup_bonus_points,
        occurred_at=created_at,
        rule="signup bonus, once per customer lifetime",
    )


@dataclass(frozen=True)
class MergePlan:
    """How a merged-away customer's rows move to the kept customer."""

    move: tuple[LedgerEntry, ...]
    drop: tuple[LedgerEntry, ...]
    audit: LedgerEntry

    @property
    def moved_points(self) -> int:
        """Points that change hands."""
        return sum(e.points for e in self.move)

    @property
    def dropped_points(self) -> int:
        """Points of duplicate rows removed (the kept customer already has them)."""
        return sum(e.points for e in self.drop)


def plan_merge(
    loser: int,
    kept: int,
    loser_entries: Sequence[LedgerEntry],
    kept_entries: Sequence[LedgerEntry],
    now: datetime,
) -> MergePlan:
    """Move a merged customer's rows to the kept one, removing duplicates.

    A row whose (source, kind) the kept customer already holds is a duplicate (the same
    order booked twice, or a second one-time bonus) and is dropped; everything else
    moves, so the kept balance becomes the sum of both minus the duplicates.
    """
    held = {(e.source, e.kind) for e in kept_entries}
    move = tuple(e for e in loser_entries if (e.source, e.kind) not in held)
    drop = tuple(e for e in loser_entries if (e.source, e.kind) in held)
    one_time_dropped = sum(1 for e in drop if e.kind in ONE_TIME_KINDS)
    audit = LedgerEntry(
        customer_id=kept,
        source=f"merge:{loser}",
        kind=EntryKind.MERGE_TRANSFER,
        points=0,
        occurred_at=now,
        rule=(
            f"merged customer {loser}: {len(move)} rows moved, {len(drop)} duplicates "
            f"removed ({one_time_dropped} one-time)"
        ),
    )
    return MergePlan(move=move, drop=drop, audit=audit)


def _lots(entries: Sequence[LedgerEntry]) -> dict[tuple[str, EntryKind], list[object]]:
    """Positive rows as [entry, remaining] lots, oldest first."""
    lots: dict[tuple[str, EntryKind], list[object]] = {}
    for e in sorted(entries, key=lambda e: (e.occurred_at, e.source, e.kind.value)):
        if e.points > 0 and e.kind is not EntryKind.EXPIRY:
            lots[(e.source, e.kind)] = [e, e.points]
    return lots


def expiry_entries(
    customer_id: int, entries: Sequence[LedgerEntry], now: datetime, days: int
) -> list[LedgerEntry]:
    """Expire what is left of each earning lot ``days`` after it was earned.

    Spending and reversals consume the oldest lots first (FIFO); an expiry row names
    its lot, so expiring twice is impossible.
    """
    lots = _lots(entries)
    expired_lots = {e.source.removeprefix("expiry:") for e in entries if e.kind is EntryKind.EXPIRY}
    debit = -sum(e.points for e in entries if e.points < 0 and e.kind is not EntryKind.EXPIRY)
    out: list[LedgerEntry] = []
    for (source, kind), (entry, amount) in lots.items():
        assert isinstance(entry, LedgerEntry)
        assert isinstance(amount, int)
        taken = min(amount, debit)
        debit -= taken
        remaining = amount - taken
        lot_name = f"{kind.value}:{source}"
        expired = lot_name in expired_lots
        if expired or remaining <= 0 or entry.occurred_at + timedelta(days=days) > now:
            continue
        out.append(
            LedgerEntry(
                customer_id=customer_id,
                source=f"expiry:{lot_name}",
                kind=EntryKind.EXPIRY,
                points=-remaining,
                occurred_at=entry.occurred_at + timedelta(days=days),
                rule=f"points expire {days} days after they were earned",
            )
        )
    return out


#: Account statuses the retention purge removes: soft-deleted or merged away (never active).
PURGED_STATUSES = ("deleted", "merged")


@dataclass(frozen=True)
class RetainedAccount:
    """What the purge reads of an account: its status and when it was deleted or merged."""

    status: str
    deleted_at: datetime | None


def purge_cutoff(now: datetime, retention_days: int) -> datetime:
    """Accounts deleted or merged at or before this moment have served their retention."""
    return now - timedelta(days=retention_days)


def purge_due(deleted_at: datetime | None, now: datetime, retention_days: int) -> bool:
    """Whether a soft-deleted account's retention period is over."""
    return deleted_at is not None and deleted_at <= purge_cutoff(now, retention_days)


def account_purge_due(account: RetainedAccount, now: datetime, retention_days: int) -> bool:
    """Whether the purge removes this account, its personal data and its ledger rows.

    The store's purge selects the same accounts in SQL from ``PURGED_STATUSES`` and
    ``purge_cutoff``.
    """
    return account.status in PURGED_STATUSES and purge_due(account.deleted_at, now, retention_days)
