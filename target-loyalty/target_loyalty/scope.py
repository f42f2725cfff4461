"""Which customers a close recomputes: the queue, the moved clock, or everyone.

Storage for :mod:`target_loyalty.domain.recompute`: the queue of customers whose books
changed since the last close, the clock and rules of that close, and the indexed reads that
find the customers a moved clock changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.domain.model import LoyaltyRules
from target_loyalty.domain.recompute import ClockWindows, clock_windows, rules_digest

#: Customers recomputed together: bounds the memory of a full recompute.
PART = 2000


@dataclass(frozen=True)
class Scope:
    """The customers a close recomputes.

    Attributes:
        full: Every customer of the shop (rules changed, first close, a year boundary,
            or asked for).
        customers: When not full, the queued customers and those the clock changed.
        reason: Why it is full, for the log.
    """

    full: bool
    customers: frozenset[int] = frozenset()
    reason: str = ""


def plan(conn: Connection, shop: str, rules: LoyaltyRules, now: datetime, *, full: bool) -> Scope:
    """Decide what this close recomputes."""
    if full:
        return Scope(True, reason="a full recompute was asked for")
    clock = conn.execute(
        sa.select(s.books_clock.c.as_of, s.books_clock.c.rules_digest).where(
            s.books_clock.c.shop_domain == shop
        )
    ).first()
    if clock is None:
        return Scope(True, reason="no earlier close of this shop is recorded")
    if clock.rules_digest != rules_digest(rules):
        return Scope(True, reason="the tier, expiry or metrics rules changed since the last close")
    windows = clock_windows(rules, clock.as_of, now)
    if windows is None:
        return Scope(True, reason="the clock crossed a calendar year")
    return Scope(False, frozenset(queued(conn, shop) | moved_by_clock(conn, shop, windows)))


def queued(conn: Connection, shop: str) -> set[int]:
    """Customers whose books changed since the last close."""
    q = s.recompute_queue
    return set(conn.execute(sa.select(q.c.customer_id).where(q.c.shop_domain == shop)).scalars())


def moved_by_clock(conn: Connection, shop: str, windows: ClockWindows) -> set[int]:
    """Customers with an earning order or a positive row dated inside the windows."""
    found: set[int] = set()
    o, ledger = s.orders, s.ledger
    for low, high in windows.order_dates:
        query = sa.select(o.c.customer_id).where(
            o.c.shop_domain == shop,
            o.c.created_at.between(low, high),
            o.c.customer_id.is_not(None),
            o.c.eligible.is_(True),
            o.c.test.is_(False),
        )
        found.update(conn.execute(query.distinct()).scalars())
    for low, high in windows.lot_dates:
        query = sa.select(ledger.c.customer_id).where(
            ledger.c.shop_domain == shop,
            ledger.c.occurred_at.between(low, high),
            ledger.c.points > 0,
        )
        found.update(conn.execute(query.distinct()).scalars())
    return found


def parts(conn: Connection, shop: str, scope: Scope) -> Iterator[list[int]]:
    """The scope's customers in ascending parts of at most ``PART``.

    A full scope is read page by page, so a million-order store is never held in memory
    at once.
    """
    if not scope.full:
        ordered = sorted(scope.customers)
        for start in range(0, len(ordered), PART):
            yield ordered[start : start + PART]
        return
    # Every order owner has an account (orders create them; purge clears the owner), so
    # the accounts' key is the whole population, read in key order.
    a = s.accounts
    after = -1
    while True:
        query = (
            sa.select(a.c.customer_id)
            .where(a.c.shop_domain == shop, a.c.customer_id > after)
            .order_by(a.c.customer_id)
            .limit(PART)
        )
        page = list(conn.execute(query).scalars())
        if not page:
            return
        yield page
        after = page[-1]


def settle(
    conn: Connection,
    shop: str,
    rules: LoyaltyRules,
    *,
    now: datetime,
    run_id: str,
    closed_at: datetime,
) -> None:
    """Empty the queue and record the clock and rules every account now agrees with."""
    conn.execute(sa.delete(s.recompute_queue).where(s.recompute_queue.c.shop_domain == shop))
    row = {
        "shop_domain": shop,
        "as_of": now,
        "rules_digest": rules_digest(rules),
        "run_id": run_id,
        "closed_at": closed_at,
    }
    stmt = storage.upsert(conn, s.books_clock)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_domain"],
            set_={c: stmt.excluded[c] for c in ("as_of", "rules_digest", "run_id", "closed_at")},
        ),
        [row],
    )
