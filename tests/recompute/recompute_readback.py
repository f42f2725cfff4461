"""What each target's database holds, read back with plain SQL in the shapes of
``recompute_rules`` (so the two compare with ``==``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from recompute_rules import ZERO, CrmStore, LoyaltyBooks

# Columns of loyalty_orders that may say an order awaits payment (the schema grows).
PENDING_FLAGS = ("awaiting_payment", "pending")
PENDING_STATES = ("awaiting_payment", "pending")


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """All rows of one query."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def columns(url: str, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table):
            return set()
        return {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()


def utc(value: Any) -> datetime | None:
    """A database time as an aware UTC datetime (SQLite hands back naive or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money(value: Any) -> Decimal:
    """A stored amount as a Decimal (None: zero)."""
    return ZERO if value is None else Decimal(str(value))


def latest_run_status(url: str, table: str, shop: str | None) -> str | None:
    """Status of the latest run in ``table`` (``loyalty_sync_runs`` / ``sync_runs``)."""
    where = " WHERE shop_domain = :s" if shop else ""
    found = rows(url, f"SELECT status FROM {table}{where} ORDER BY started_at DESC LIMIT 1", s=shop)
    return found[0][0] if found else None


def crm_outcome(url: str, shop: str) -> str | None:
    """The latest run's outcome for ``shop``: ``crm_run_shops.outcome`` (per shop) when the
    store has it, else the run's ``sync_runs.status``."""
    if columns(url, "crm_run_shops"):
        found = rows(
            url,
            "SELECT s.outcome FROM crm_run_shops s JOIN sync_runs r ON r.run_id = s.run_id "
            "WHERE s.shop_domain = :s ORDER BY r.started_at DESC LIMIT 1",
            s=shop,
        )
        return found[0][0] if found else None
    return latest_run_status(url, "sync_runs", None)


def _order_of_row(source: str, order_id: Any, refund_orders: dict[int, int]) -> int | None:
    if order_id is not None:
        return int(order_id)
    kind, _, rest = source.partition(":")
    number = rest.split("@")[0].split("#")[0]
    if kind == "order" and number.isdigit():
        return int(number)
    if kind == "refund" and number.isdigit():
        return refund_orders.get(int(number))
    return None


def _pending_orders(url: str, shop: str) -> frozenset[int]:
    cols = columns(url, "loyalty_orders")
    flag = next((c for c in PENDING_FLAGS if c in cols), None)
    if flag is not None:
        sql = f"SELECT order_id FROM loyalty_orders WHERE shop_domain = :s AND {flag}"
        return frozenset(int(r[0]) for r in rows(url, sql, s=shop))
    for state_col in ("earning_status", "payment_state", "state", "status"):
        if state_col in cols:
            sql = (
                f"SELECT order_id FROM loyalty_orders WHERE shop_domain = :s "
                f"AND {state_col} IN ('awaiting_payment', 'pending')"
            )
            return frozenset(int(r[0]) for r in rows(url, sql, s=shop))
    return _pending_from_discrepancies(url, shop)


def _pending_from_discrepancies(url: str, shop: str) -> frozenset[int]:
    """No per-order state column: an order not eligible whose latest discrepancy says it
    awaits payment (the field ``financial_status``) is pending."""
    latest: dict[int, tuple[str, str]] = {}
    for key, field_name, reason in rows(
        url,
        "SELECT d.record_key, d.field, d.reason FROM loyalty_discrepancies d "
        "WHERE d.shop_domain = :s AND d.stream = 'orders' ORDER BY d.discrepancy_id",
        s=shop,
    ):
        number = key.rsplit(":", 1)[-1]
        if number.isdigit():
            latest[int(number)] = (field_name, reason.lower())
    not_eligible = {
        int(r[0])
        for r in rows(
            url,
            "SELECT order_id FROM loyalty_orders WHERE shop_domain = :s AND NOT eligible",
            s=shop,
        )
    }
    return frozenset(
        oid
        for oid, (field_name, reason) in latest.items()
        if oid in not_eligible and field_name == "financial_status" and "awaiting" in reason
    )


def loyalty_books(url: str, shop: str, snapshot: dict[str, Any]) -> LoyaltyBooks:
    """The loyalty books as stored (balances are sums of ledger rows)."""
    refund_orders = {r["id"]: o["id"] for o in snapshot["orders"] for r in o["refunds"]}
    statuses, merged_into, net_spend = {}, {}, {}
    for cid, status, merged, spend in rows(
        url,
        "SELECT customer_id, status, merged_into, net_spend FROM loyalty_accounts "
        "WHERE shop_domain = :s",
        s=shop,
    ):
        statuses[int(cid)] = status
        if merged is not None:
            merged_into[int(cid)] = int(merged)
        if status == "active":
            net_spend[int(cid)] = money(spend)
    balances = dict.fromkeys(statuses, 0)
    per_order: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    cashback: dict[int, Decimal] = defaultdict(Decimal)
    for cid, source, kind, points, cash, order_id in rows(
        url,
        "SELECT customer_id, source, kind, points, cashback, order_id FROM loyalty_ledger "
        "WHERE shop_domain = :s",
        s=shop,
    ):
        balances[int(cid)] = balances.get(int(cid), 0) + int(points)
        oid = _order_of_row(source, order_id, refund_orders)
        if oid is not None and kind != "signup_bonus":
            per_order[oid][int(cid)] += int(points)
            cashback[oid] += money(cash)
    order_points = {}
    for oid, by_customer in per_order.items():
        holders = {cid: p for cid, p in by_customer.items() if p}
        if len(holders) == 1:
            order_points[oid] = next(iter(holders.items()))
        elif holders:
            order_points[oid] = (-len(holders), sum(holders.values()))  # split: a mismatch
    return LoyaltyBooks(
        statuses,
        merged_into,
        balances,
        order_points,
        net_spend,
        {oid: c for oid, c in cashback.items() if c},
        _pending_orders(url, shop),
    )


def crm_store(url: str, shop: str) -> CrmStore:
    """The CRM store's contacts, Order Placed events and duplicate flags."""
    statuses, merged_into, count, value = {}, {}, {}, {}
    for cid, status, merged, order_count, ltv in rows(
        url,
        "SELECT customer_id, status, merged_into, order_count, lifetime_value FROM contacts "
        "WHERE shop_domain = :s",
        s=shop,
    ):
        statuses[int(cid)] = status
        if merged is not None:
            merged_into[int(cid)] = int(merged)
        if status == "active":
            count[int(cid)], value[int(cid)] = int(order_count), money(ltv)
    placed = {
        eid: (int(cid), utc(occurred), bool(triggers))
        for eid, cid, occurred, triggers in rows(
            url,
            "SELECT event_id, customer_id, occurred_at, triggers_automations FROM events "
            "WHERE shop_domain = :s AND kind = 'order_placed'",
            s=shop,
        )
    }
    duplicates = frozenset(
        (*sorted((int(a), int(b))), rule)
        for a, b, rule in rows(
            url,
            "SELECT customer_id, matched_customer_id, rule FROM duplicates WHERE shop_domain = :s",
            s=shop,
        )
    )
    return CrmStore(statuses, merged_into, count, value, placed, duplicates)


def crm_cutover(url: str, shop: str) -> datetime | None:
    """The shop's recorded silent-backfill cut-over."""
    found = rows(url, "SELECT cutover_at FROM shops WHERE shop_domain = :s", s=shop)
    return utc(found[0][0]) if found else None
