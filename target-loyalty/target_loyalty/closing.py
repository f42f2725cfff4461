"""End of a run: tiers, cashback, expiry, purge, and the run's statistics.

Runs once per shop after every batch is committed, in one transaction, against the
sync's clock (``now``), so a re-run with the same input and clock adds nothing. It reads
only the customers the run changed (and those the moved clock changed): its cost follows
the change, not the store's history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from target_loyalty import outcome as run_outcome
from target_loyalty import scope, storage
from target_loyalty.domain.lifecycle import PURGED_STATUSES, expiry_entries, purge_cutoff
from target_loyalty.domain.model import ZERO, LedgerEntry, LoyaltyRules, Tier
from target_loyalty.domain.reconciliation import Check, CheckStatus, RunStatus
from target_loyalty.domain.tiers import (
    OrderSpend,
    TimedSpend,
    cashback_percent,
    evaluate_tier,
    net_spend,
    plan_cashback,
    tier_timeline,
)
from target_loyalty.runs import RunRegistry
from target_loyalty.scope import Scope


@dataclass(frozen=True)
class Recomputed:
    """What a recompute did: how many customers it read, and the cashback it issued."""

    customers: int
    cashback: Decimal
    scope: Scope


def close_run(
    conn: Connection,
    shop: str,
    rules: LoyaltyRules,
    registry: RunRegistry,
    *,
    now: datetime,
    finished_at: datetime,
    extra_checks: Sequence[Check] = (),
    error: str | None = None,
) -> tuple[RunStatus, list[Check], Recomputed]:
    """Recompute the changed customers, purge, and finish the run's row.

    Args:
        conn: The closing transaction.
        shop: The shop whose run closes.
        rules: The program rules.
        registry: The run's locks and statistics.
        now: The sync's clock (``as_of``) that tiers, expiry and retention read.
        finished_at: Wall-clock time recorded as the run's end.
        extra_checks: Checks made before closing (the roster's).
        error: Set when the run failed before closing (the roster guard): the books are
            still closed, and the run is recorded ``failed`` with this message.

    Returns:
        How the run ended for the shop, its reconciliation checks, and what it recomputed.
    """
    done = recompute_books(
        conn, shop, rules, registry.run_id, now=now, closed_at=finished_at, full=False
    )
    purged = purge(conn, shop, rules.retention_days, now)
    facts = _run_facts(conn, shop, registry.run_id)
    status, checks = run_outcome.settle(conn, registry.run_id, shop, extra_checks)
    if error is not None:
        status = RunStatus.FAILED
    registry.finish(
        conn,
        shop,
        status.value,
        finished_at,
        accounts_purged=purged,
        cashback_issued=done.cashback,
        error=error if error is not None else _first_failure(checks),
        **facts,
    )
    return status, checks, done


def recompute_books(
    conn: Connection,
    shop: str,
    rules: LoyaltyRules,
    run_id: str,
    *,
    now: datetime,
    closed_at: datetime,
    full: bool,
) -> Recomputed:
    """Bring tiers, cashback, expiry and metrics up to date at ``now``.

    Only the customers queued since the last close and those the moved clock changed are
    read, unless ``full`` (or the rules changed, or this is the shop's first close): then
    every account, part by part. Either way the result is the same.
    """
    chosen = scope.plan(conn, shop, rules, now, full=full)
    customers, cashback = 0, ZERO
    for part in scope.parts(conn, shop, chosen):
        customers += len(part)
        cashback += _recompute_part(conn, shop, part, rules, run_id=run_id, now=now)
    scope.settle(conn, shop, rules, now=now, run_id=run_id, closed_at=closed_at)
    return Recomputed(customers, cashback, chosen)


def _recompute_part(
    conn: Connection,
    shop: str,
    customers: Sequence[int],
    rules: LoyaltyRules,
    *,
    run_id: str,
    now: datetime,
) -> Decimal:
    """Cashback, expiry and metrics of some customers; returns the cashback issued."""
    history = _order_history(conn, shop, customers)
    # Only orders that earn count toward tier spend (paid, not test, no skip tag).
    timelines = {
        cid: tier_timeline(
            [t for t, earns in history.get(cid, []) if earns],
            rules.tiers,
            rules.evaluation_period,
            now,
        )
        for cid in customers
    }
    cashback_rows = storage.cashback_entries(conn, shop, customers)
    new = _plan_cashback(history=history, timelines=timelines, booked_rows=cashback_rows)
    storage.insert_entries(conn, shop, run_id, new, now)
    if rules.expiry_days:
        _expire(conn, shop, customers, run_id=run_id, days=rules.expiry_days, now=now)
    if rules.update_customer_metrics:
        _store_metrics(
            conn,
            shop,
            customers,
            history=history,
            timelines=timelines,
            cashback_rows=cashback_rows + new,
            rules=rules,
            now=now,
        )
    return sum((e.cashback for e in new), ZERO)


def _first_failure(checks: Sequence[Check]) -> str | None:
    failed = [str(c) for c in checks if c.status is CheckStatus.FAIL]
    return "; ".join(failed)[:2000] if failed else None


History = dict[int, list[tuple[TimedSpend, bool]]]
Timelines = dict[int, tuple[dict[int, Tier | None], Tier | None]]


def _order_history(conn: Connection, shop: str, customers: Sequence[int]) -> History:
    """Each customer's non-test orders as (spend, eligible for rewards)."""
    history: History = defaultdict(list)
    for cid, oid, created, net, eligible in storage.order_history(conn, shop, customers):
        history[cid].append((TimedSpend(oid, created, net), eligible))
    return history


def _plan_cashback(
    *, history: History, timelines: Timelines, booked_rows: list[LedgerEntry]
) -> list[LedgerEntry]:
    """The rows bringing each order of these customers to its cashback."""
    booked: dict[tuple[int, int], list[LedgerEntry]] = defaultdict(list)
    for entry in booked_rows:
        booked[entry.customer_id, entry.order_id or 0].append(entry)
    new: list[LedgerEntry] = []
    for cid in sorted(timelines):
        # A customer whose only orders are test orders has no spend history at all.
        at_order, _final = timelines[cid]
        for spend, eligible in history.get(cid, []):
            cashback = plan_cashback(
                cid,
                spend.order_id,
                net_amount=spend.net_amount,
                percent=cashback_percent(at_order.get(spend.order_id), eligible),
                booked=booked.get((cid, spend.order_id), []),
                occurred_at=spend.created_at,
            )
            if cashback is not None:
                new.append(cashback)
    return new


def _expire(
    conn: Connection, shop: str, customers: Sequence[int], *, run_id: str, days: int, now: datetime
) -> None:
    held = storage.entries_for_customers(conn, shop, customers)
    new = [e for cid in customers for e in expiry_entries(cid, held.get(cid, []), now, days)]
    storage.insert_entries(conn, shop, run_id, new, now)


def _store_metrics(
    conn: Connection,
    shop: str,
    customers: Sequence[int],
    *,
    history: History,
    timelines: Timelines,
    cashback_rows: list[LedgerEntry],
    rules: LoyaltyRules,
    now: datetime,
) -> None:
    """Store each account's tier, net spend in the period, and balances."""
    points = storage.balances(conn, shop, customers)
    # Cashback is summed here, not in SQL: SQLite stores money as exact text.
    credit: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for entry in cashback_rows:
        credit[entry.customer_id] += entry.cashback
    rows = []
    for cid in customers:
        spends = [OrderSpend(t.created_at, t.net_amount) for t, e in history.get(cid, []) if e]
        final = timelines[cid][1] if cid in timelines else evaluate_tier(ZERO, None, rules.tiers)
        rows.append(
            {
                "shop_domain": shop,
                "customer_id": cid,
                "tier": final.name if final else None,
                "net_spend": net_spend(spends, rules.evaluation_period, now),
                "points_balance": points.get(cid, 0),
                "cashback_balance": credit.get(cid, ZERO),
                "metrics_at": now,
            }
        )
    storage.store_account_metrics(conn, rows)


def purge(conn: Connection, shop: str, retention_days: int, now: datetime) -> int:
    """Delete accounts, personal data and ledger rows once retention is over."""
    return storage.purge_accounts(conn, shop, PURGED_STATUSES, purge_cutoff(now, retention_days))


def _run_facts(conn: Connection, shop: str, run_id: str) -> dict[str, Any]:
    return storage.run_order_facts(conn, shop, run_id)
