"""End of a run: tiers, cashback, expiry, purge, and the run's statistics.

Runs once per shop after every batch is committed, in one transaction, against the
sync's clock (``now``), so a re-run with the same input and clock adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.domain.earning import stamp
from target_loyalty.domain.lifecycle import expiry_entries
from target_loyalty.domain.model import ZERO, EntryKind, LedgerEntry, LoyaltyRules
from target_loyalty.domain.tiers import OrderSpend, evaluate_tier, net_spend, plan_cashback
from target_loyalty.runs import RunRegistry


def close_run(
    conn: Connection,
    shop: str,
    rules: LoyaltyRules,
    registry: RunRegistry,
    *,
    now: datetime,
    finished_at: datetime,
) -> None:
    """Recompute metrics, issue cashback and expiry, purge, and finish the run's row.

    Args:
        conn: The closing transaction.
        shop: The shop whose run closes.
        rules: The program rules.
        registry: The run's locks and statistics.
        now: The sync's clock (``as_of``) that tiers, expiry and retention read.
        finished_at: Wall-clock time recorded as the run's end.
    """
    tiers = _evaluate_tiers(conn, shop, rules, now) if rules.update_customer_metrics else None
    if tiers is None:
        tiers = _stored_tiers(conn, shop)
    percent = {t.name: t.cashback_percent for t in rules.tiers}
    cashback = _issue_cashback(
        conn, shop, run_id=registry.run_id, tiers=tiers, percent=percent, now=now
    )
    if rules.expiry_days:
        _expire(conn, shop, registry.run_id, rules.expiry_days, now)
    if rules.update_customer_metrics:
        _store_balances(conn, shop, now)
    purged = _purge(conn, shop, rules.retention_days, now)
    facts = _run_facts(conn, shop, registry.run_id)
    registry.finish(
        conn,
        shop,
        "succeeded",
        finished_at,
        accounts_purged=purged,
        cashback_issued=cashback,
        **facts,
    )


def _evaluate_tiers(
    conn: Connection, shop: str, rules: LoyaltyRules, now: datetime
) -> dict[int, str | None]:
    o, a = s.orders, s.accounts
    spends: dict[int, list[OrderSpend]] = defaultdict(list)
    query = sa.select(o.c.customer_id, o.c.created_at, o.c.net_basis).where(
        o.c.shop_domain == shop, o.c.customer_id.is_not(None), o.c.test.is_(False)
    )
    for cid, created, net in conn.execute(query):
        spends[cid].append(OrderSpend(created, net))
    current = dict(
        conn.execute(
            sa.select(a.c.customer_id, a.c.tier).where(
                a.c.shop_domain == shop, a.c.status == "active"
            )
        ).all()
    )
    placed: dict[int, str | None] = {}
    updates = []
    for cid, tier_name in current.items():
        spend = net_spend(spends.get(cid, []), rules.evaluation_period, now)
        tier = evaluate_tier(spend, tier_name, rules.tiers)
        placed[cid] = tier.name if tier else None
        updates.append({"cid": cid, "tier": placed[cid], "net_spend": spend})
    if updates:
        conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == shop, a.c.customer_id == sa.bindparam("cid"))
            .values(tier=sa.bindparam("tier"), net_spend=sa.bindparam("net_spend")),
            updates,
        )
    return placed


def _stored_tiers(conn: Connection, shop: str) -> dict[int, str | None]:
    a = s.accounts
    query = sa.select(a.c.customer_id, a.c.tier).where(a.c.shop_domain == shop)
    return dict(conn.execute(query).all())


def _issue_cashback(
    conn: Connection,
    shop: str,
    *,
    run_id: str,
    tiers: dict[int, str | None],
    percent: dict[str, Decimal],
    now: datetime,
) -> Decimal:
    """Cashback for the orders this run touched, at the owner's tier percentage."""
    o = s.orders
    query = sa.select(o).where(
        o.c.shop_domain == shop, o.c.last_run_id == run_id, o.c.customer_id.is_not(None)
    )
    touched = conn.execute(query).all()
    booked = storage.entries_for_orders(conn, shop, [row.order_id for row in touched])
    new: list[LedgerEntry] = []
    for row in touched:
        rows = [
            e
            for e in booked.get(row.order_id, [])
            if e.kind is EntryKind.CASHBACK and e.customer_id == row.customer_id
        ]
        tier = tiers.get(row.customer_id)
        rate = percent.get(tier, ZERO) if tier else ZERO
        net = row.net_basis if row.eligible else ZERO
        entry = plan_cashback(
            row.customer_id,
            row.order_id,
            net_amount=net,
            percent=rate,
            booked=rows,
            updated_stamp=stamp(row.updated_at),
            occurred_at=row.created_at,
        )
        if entry is not None:
            new.append(entry)
    storage.insert_entries(conn, shop, run_id, new, now)
    return storage.cashback_total(conn, shop, run_id)


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


def _store_balances(conn: Connection, shop: str, now: datetime) -> None:
    ledger, a = s.ledger, s.accounts
    points: dict[int, int] = defaultdict(int)
    credit: dict[int, Decimal] = defaultdict(lambda: ZERO)
    query = sa.select(ledger.c.customer_id, ledger.c.points, ledger.c.cashback).where(
        ledger.c.shop_domain == shop
    )
    for cid, pts, cash in conn.execute(query):
        points[cid] += pts
        credit[cid] += cash
    rows = [
        {
            "cid": cid,
            "points_balance": points[cid],
            "cashback_balance": credit[cid],
            "metrics_at": now,
        }
        for cid in points
    ]
    if rows:
        conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == shop, a.c.customer_id == sa.bindparam("cid"))
            .values(
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
