"""End of a run: tiers, cashback, expiry, purge, and the run's statistics.

Runs once per shop after every batch is committed, in one transaction, against the
sync's clock (``now``), so a re-run with the same input and clock adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_loyalty import outcome as run_outcome
from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.domain.lifecycle import expiry_entries
from target_loyalty.domain.model import ZERO, LedgerEntry, LoyaltyRules, Tier
from target_loyalty.domain.reconciliation import Check, CheckStatus, RunStatus
from target_loyalty.domain.tiers import (
    OrderSpend,
    TimedSpend,
    evaluate_tier,
    net_spend,
    plan_cashback,
    tier_timeline,
)
from target_loyalty.runs import RunRegistry


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
) -> tuple[RunStatus, list[Check]]:
    """Recompute metrics, issue cashback and expiry, purge, and finish the run's row.

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
        How the run ended for the shop, and its reconciliation checks.
    """
    history = _order_history(conn, shop)
    touched = _touched_customers(conn, shop, registry.run_id)
    scope = set(history) if rules.update_customer_metrics else touched
    # Only orders that earn count toward tier spend (paid, not test, no skip tag).
    timelines = {
        cid: tier_timeline(
            [t for t, earns in history.get(cid, []) if earns],
            rules.tiers,
            rules.evaluation_period,
            now,
        )
        for cid in scope
    }
    cashback_rows = storage.cashback_entries(conn, shop)
    cashback_rows += _issue_cashback(
        conn,
        shop,
        booked_rows=cashback_rows,
        run_id=registry.run_id,
        history=history,
        timelines=timelines,
        touched=touched,
        now=now,
    )
    if rules.expiry_days:
        _expire(conn, shop, registry.run_id, rules.expiry_days, now)
    if rules.update_customer_metrics:
        _store_metrics(
            conn,
            shop,
            history=history,
            timelines=timelines,
            cashback_rows=cashback_rows,
            rules=rules,
            now=now,
        )
    purged = _purge(conn, shop, rules.retention_days, now)
    facts = _run_facts(conn, shop, registry.run_id)
    cashback = storage.cashback_total(conn, shop, registry.run_id)
    status, checks = run_outcome.settle(conn, registry.run_id, shop, extra_checks)
    if error is not None:
        status = RunStatus.FAILED
    registry.finish(
        conn,
        shop,
        status.value,
        finished_at,
        accounts_purged=purged,
        cashback_issued=cashback,
        error=error if error is not None else _first_failure(checks),
        **facts,
    )
    return status, checks


def _first_failure(checks: Sequence[Check]) -> str | None:
    failed = [str(c) for c in checks if c.status is CheckStatus.FAIL]
    return "; ".join(failed)[:2000] if failed else None


History = dict[int, list[tuple[TimedSpend, bool]]]


def _touched_customers(conn: Connection, shop: str, run_id: str) -> set[int]:
    """Customers owning an order this run wrote."""
    o = s.orders
    query = (
        sa.select(o.c.customer_id)
        .where(o.c.shop_domain == shop, o.c.last_run_id == run_id, o.c.customer_id.is_not(None))
        .distinct()
    )
    return set(conn.execute(query).scalars())


def _order_history(conn: Connection, shop: str) -> History:
    """Each customer's non-test orders as (spend, eligible for rewards)."""
    o = s.orders
    query = sa.select(
        o.c.customer_id, o.c.order_id, o.c.created_at, o.c.net_basis, o.c.eligible
    ).where(o.c.shop_domain == shop, o.c.customer_id.is_not(None), o.c.test.is_(False))
    history: History = defaultdict(list)
    for cid, oid, created, net, eligible in conn.execute(query):
        history[cid].append((TimedSpend(oid, created, net), bool(eligible)))
    return history


def _issue_cashback(
    conn: Connection,
    shop: str,
    *,
    run_id: str,
    history: History,
    timelines: dict[int, tuple[dict[int, Tier | None], Tier | None]],
    touched: set[int],
    booked_rows: list[LedgerEntry],
    now: datetime,
) -> list[LedgerEntry]:
    """Bring each order of the customers this run touched to its cashback.

    Returns:
        The cashback rows written.
    """
    booked: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in booked_rows:
        booked[entry.order_id or 0].append(entry)
    new: list[LedgerEntry] = []
    for cid in sorted(touched):
        # A customer whose only orders are test orders has no spend history at all.
        at_order, _final = timelines.get(cid, ({}, None))
        for spend, eligible in history.get(cid, []):
            tier = at_order.get(spend.order_id)
            percent = tier.cashback_percent if tier and eligible else ZERO
            cashback = plan_cashback(
                cid,
                spend.order_id,
                net_amount=spend.net_amount,
                percent=percent,
                booked=[e for e in booked.get(spend.order_id, []) if e.customer_id == cid],
                occurred_at=spend.created_at,
            )
            if cashback is not None:
                new.append(cashback)
    storage.insert_entries(conn, shop, run_id, new, now)
    return new


def _expire(conn: Connection, shop: str, run_id: str, days: int, now: datetime) -> None:
    ledger = s.ledger
    cutoff = now - timedelta(days=days)
    query = (
        sa.select(ledger.c.customer_id)
        .where(ledger.c.shop_domain == shop, ledger.c.points > 0, ledger.c.occurred_at <= cutoff)
        .distinct()
    )
    customers = conn.execute(query).scalars().all()
    held = storage.entries_for_customers(conn, shop, customers)
    new = [e for cid in customers for e in expiry_entries(cid, held.get(cid, []), now, days)]
    storage.insert_entries(conn, shop, run_id, new, now)


def _store_metrics(
    conn: Connection,
    shop: str,
    *,
    history: History,
    timelines: dict[int, tuple[dict[int, Tier | None], Tier | None]],
    cashback_rows: list[LedgerEntry],
    rules: LoyaltyRules,
    now: datetime,
) -> None:
    """Store each account's tier, net spend in the period, and balances."""
    ledger, a = s.ledger, s.accounts
    query = (
        sa.select(ledger.c.customer_id, sa.func.sum(ledger.c.points))
        .where(ledger.c.shop_domain == shop)
        .group_by(ledger.c.customer_id)
    )
    points = {cid: int(total or 0) for cid, total in conn.execute(query)}
    # Cashback is summed here, not in SQL: SQLite stores money as exact text.
    credit: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for entry in cashback_rows:
        credit[entry.customer_id] += entry.cashback
    accounts = conn.execute(sa.select(a.c.customer_id).where(a.c.shop_domain == shop)).scalars()
    rows = []
    for cid in accounts:
        spends = [OrderSpend(t.created_at, t.net_amount) for t, e in history.get(cid, []) if e]
        final = timelines[cid][1] if cid in timelines else evaluate_tier(ZERO, None, rules.tiers)
        rows.append(
            {
                "cid": cid,
                "tier": final.name if final else None,
                "net_spend": net_spend(spends, rules.evaluation_period, now),
                "points_balance": points.get(cid, 0),
                "cashback_balance": credit.get(cid, ZERO),
                "metrics_at": now,
            }
        )
    if rows:
        conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == shop, a.c.customer_id == sa.bindparam("cid"))
            .values(
                tier=sa.bindparam("tier"),
                net_spend=sa.bindparam("net_spend"),
                points_balance=sa.bindparam("points_balance"),
                cashback_balance=sa.bindparam("cashback_balance"),
                metrics_at=sa.bindparam("metrics_at"),
            ),
            rows,
        )


def _purge(conn: Connection, shop: str, retention_days: int, now: datetime) -> int:
    """Delete accounts, personal data and ledger rows once retention is over."""
    a = s.accounts
    due = (
        conn.execute(
            sa.select(a.c.customer_id).where(
                a.c.shop_domain == shop,
                a.c.status.in_(["deleted", "merged"]),
                a.c.deleted_at <= now - timedelta(days=retention_days),
            )
        )
        .scalars()
        .all()
    )
    for part in storage.chunks(list(due)):
        conn.execute(
            sa.delete(s.ledger).where(
                s.ledger.c.shop_domain == shop, s.ledger.c.customer_id.in_(part)
            )
        )
        conn.execute(
            sa.update(s.orders)
            .where(s.orders.c.shop_domain == shop, s.orders.c.customer_id.in_(part))
            .values(customer_id=None)
        )
        conn.execute(
            sa.delete(s.roster).where(
                s.roster.c.shop_domain == shop, s.roster.c.customer_id.in_(part)
            )
        )
        conn.execute(sa.delete(a).where(a.c.shop_domain == shop, a.c.customer_id.in_(part)))
    return len(due)


def _run_facts(conn: Connection, shop: str, run_id: str) -> dict[str, Any]:
    o = s.orders
    count, customers, earliest, latest = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.distinct(o.c.customer_id)),
            sa.func.min(o.c.created_at),
            sa.func.max(o.c.created_at),
        ).where(o.c.shop_domain == shop, o.c.last_run_id == run_id)
    ).one()
    return {
        "orders_synced": count,
        "customers_synced": customers,
        "earliest_order_at": earliest,
        "latest_order_at": latest,
    }
