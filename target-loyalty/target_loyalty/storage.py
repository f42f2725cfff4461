"""Storage on SQLAlchemy Core: reads return domain objects, writes are set-based.

Every function takes an open connection: the caller owns the transaction, so one batch
is one transaction (stage, then upsert) and a crash leaves the books before or after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from target_runtime.quarantine import quarantine_row

from target_loyalty import bulk
from target_loyalty import schema as s
from target_loyalty.domain.model import Discrepancy, EntryKind, LedgerEntry

CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit
SQLITE_CACHE_KIB = 32 * 1024


def create_engine(url: str) -> Engine:
    """An engine with the tables created; SQLite files get their folder and WAL mode."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    for attempt in range(3):
        try:
            s.metadata.create_all(engine)
            # Tables made by an earlier version get the indexes added since.
            for table in s.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            break
        except sa.exc.DBAPIError:
            # Two runs starting at once can race on CREATE TABLE; the loser retries.
            if attempt == 2:
                raise
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The ledger's and orders' indexes outgrow SQLite's 2 MB default page cache within a
    # few batches, and every insert then re-reads index pages; 32 MB keeps a backfill's
    # hot pages cached (a fixed bound: peak memory stays flat as the store grows).
    cursor.execute(f"PRAGMA cache_size={-SQLITE_CACHE_KIB}")
    cursor.close()


def upsert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        customer_id=row.customer_id,
        source=row.source,
        kind=EntryKind(row.kind),
        points=row.points,
        occurred_at=row.occurred_at,
        rule=row.rule,
        order_id=row.order_id,
        rate=row.rate,
        cashback=row.cashback,
        uncollected=row.uncollected,
    )


def entries_for_orders(
    conn: Connection, shop: str, order_ids: Sequence[int]
) -> dict[int, list[LedgerEntry]]:
    """Every booked row of these orders, whichever customer holds it, by order id."""
    found: dict[int, list[LedgerEntry]] = defaultdict(list)
    table = s.ledger
    for part in chunks(sorted(set(order_ids))):
        query = sa.select(table).where(table.c.shop_domain == shop, table.c.order_id.in_(part))
        for row in conn.execute(query):
            found[row.order_id].append(_entry(row))
    return found


def booked_orders(
    conn: Connection, shop: str, order_ids: Sequence[int]
) -> dict[int, tuple[datetime, int | None]]:
    """The ``updated_at`` and owner of each order's booked version."""
    o = s.orders
    found: dict[int, tuple[datetime, int | None]] = {}
    for part in chunks(sorted(set(order_ids))):
        query = sa.select(o.c.order_id, o.c.updated_at, o.c.customer_id).where(
            o.c.shop_domain == shop, o.c.order_id.in_(part)
        )
        found.update({row[0]: (row[1], row[2]) for row in conn.execute(query)})
    return found


def queue_recompute(conn: Connection, shop: str, customer_ids: Iterable[int | None]) -> None:
    """Queue customers whose books changed for the next close (inside the batch)."""
    rows = [
        {"shop_domain": shop, "customer_id": cid}
        for cid in sorted({c for c in customer_ids if c is not None})
    ]
    bulk.write(conn, s.recompute_queue, rows, conflict=("shop_domain", "customer_id"))


def account_versions(
    conn: Connection, shop: str, customer_ids: Sequence[int]
) -> dict[int, datetime]:
    """The ``updated_at`` of each stored customer version (accounts made from orders have none)."""
    a = s.accounts
    found: dict[int, datetime] = {}
    for part in chunks(sorted(set(customer_ids))):
        query = sa.select(a.c.customer_id, a.c.updated_at).where(
            a.c.shop_domain == shop, a.c.customer_id.in_(part), a.c.updated_at.is_not(None)
        )
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found


def entries_for_customers(
    conn: Connection, shop: str, customer_ids: Iterable[int]
) -> dict[int, list[LedgerEntry]]:
    """Every row of these customers, by customer id."""
    found: dict[int, list[LedgerEntry]] = defaultdict(list)
    table = s.ledger
    for part in chunks(sorted(set(customer_ids))):
        query = sa.select(table).where(table.c.shop_domain == shop, table.c.customer_id.in_(part))
        for row in conn.execute(query):
            found[row.customer_id].append(_entry(row))
    return found


def balances(conn: Connection, shop: str, customer_ids: Iterable[int]) -> dict[int, int]:
    """Points balance (sum of rows) per customer."""
    table = s.ledger
    out: dict[int, int] = {}
    for part in chunks(sorted(set(customer_ids))):
        query = (
            sa.select(table.c.customer_id, sa.func.sum(table.c.points))
            .where(table.c.shop_domain == shop, table.c.customer_id.in_(part))
            .group_by(table.c.customer_id)
        )
        out.update({cid: int(total or 0) for cid, total in conn.execute(query)})
    return out


def insert_entries(
    conn: Connection, shop: str, run_id: str, entries: Sequence[LedgerEntry], now: datetime
) -> None:
    """Insert ledger rows; a row whose key exists already is left untouched."""
    if not entries:
        return
    rows = [
        {
            "shop_domain": shop,
            "customer_id": e.customer_id,
            "source": e.source,
            "kind": e.kind.value,
            "points": e.points,
            "uncollected": e.uncollected,
            "cashback": e.cashback,
            "rate": e.rate,
            "rule": e.rule[:255],
            "order_id": e.order_id,
            "occurred_at": e.occurred_at,
            "recorded_at": now,
            "run_id": run_id,
            "merged_from": None,
        }
        for e in entries
    ]
    bulk.write(conn, s.ledger, rows, conflict=("shop_domain", "customer_id", "source", "kind"))


def move_entries(
    conn: Connection,
    shop: str,
    holder: int,
    owner: int,
    *,
    order_id: int | None = None,
) -> None:
    """Move a holder's rows (of one order, or all) to the owner, dropping duplicates.

    A row whose (source, kind) the owner already has would break the idempotency key and
    would count the same thing twice, so it is deleted rather than moved.
    """
    table = s.ledger
    scope = [table.c.shop_domain == shop, table.c.customer_id == holder]
    if order_id is not None:
        scope.append(table.c.order_id == order_id)
    twin = sa.alias(table, "twin")
    duplicate = (
        sa.select(sa.literal(1))
        .where(
            twin.c.shop_domain == shop,
            twin.c.customer_id == owner,
            twin.c.source == table.c.source,
            twin.c.kind == table.c.kind,
        )
        .exists()
    )
    conn.execute(sa.delete(table).where(*scope, duplicate))
    conn.execute(sa.update(table).where(*scope).values(customer_id=owner, merged_from=holder))


def upsert_orders(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or refresh the order facts tiers and statistics read."""
    if not rows:
        return
    keys = {"shop_domain", "order_id"}
    bulk.write(
        conn,
        s.orders,
        rows,
        conflict=("shop_domain", "order_id"),
        update=[c for c in rows[0] if c not in keys],
        # The previous owner is kept unless this version changes it: merges read it.
        extra_set=(
            "previous_customer_id = CASE WHEN loyalty_orders.customer_id IS DISTINCT FROM "
            "excluded.customer_id THEN loyalty_orders.customer_id "
            "ELSE loyalty_orders.previous_customer_id END"
        ),
    )


def ensure_accounts(conn: Connection, shop: str, customer_ids: Iterable[int]) -> None:
    """Create empty accounts for customers first seen through their orders."""
    rows = [{"shop_domain": shop, "customer_id": cid} for cid in sorted(set(customer_ids))]
    bulk.write(conn, s.accounts, rows, conflict=("shop_domain", "customer_id"))


def upsert_accounts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or refresh accounts from customer records; a live customer is not deleted."""
    if rows:
        keys = {"shop_domain", "customer_id"}
        update = [c for c in rows[0] if c not in keys]
        bulk.write(conn, s.accounts, rows, conflict=("shop_domain", "customer_id"), update=update)


def record_discrepancies(
    conn: Connection,
    *,
    run_id: str,
    shop: str,
    stream: str,
    notes: Sequence[Discrepancy],
    now: datetime,
) -> None:
    """One row per record (or field) not applied as-is."""
    if notes:
        bulk.write(
            conn,
            s.discrepancies,
            [
                {
                    "run_id": run_id,
                    "shop_domain": shop,
                    "stream": stream,
                    "record_key": n.record_key[:255],
                    "field": n.field[:255],
                    "reason": n.reason,
                    "corrected": n.corrected,
                    "recorded_at": now,
                }
                for n in notes
            ],
        )


def quarantine(
    conn: Connection,
    run_id: str,
    shop: str,
    rejects: Sequence[tuple[Any, dict[str, Any]]],
    now: datetime,
) -> None:
    """Store rejected records with the reason, and count each as a discrepancy."""
    if not rejects:
        return
    own = {"run_id": run_id, "shop_domain": shop, "recorded_at": now}
    rows = [{**quarantine_row(err, raw), **own} for err, raw in rejects]
    conn.execute(sa.insert(s.quarantine), rows)
    notes = [
        Discrepancy(f"{e.stream}:{e.key}", e.field, f"quarantined: {e.reason}") for e, _ in rejects
    ]
    by_stream: dict[str, list[Discrepancy]] = defaultdict(list)
    for (err, _), note in zip(rejects, notes, strict=True):
        by_stream[err.stream].append(note)
    for stream, group in by_stream.items():
        record_discrepancies(conn, run_id=run_id, shop=shop, stream=stream, notes=group, now=now)


def cashback_entries(conn: Connection, shop: str, customer_ids: Sequence[int]) -> list[LedgerEntry]:
    """Every cashback row of these customers."""
    table = s.ledger
    found: list[LedgerEntry] = []
    for part in chunks(sorted(set(customer_ids))):
        query = sa.select(table).where(
            table.c.shop_domain == shop,
            table.c.customer_id.in_(part),
            table.c.kind == EntryKind.CASHBACK.value,
        )
        found.extend(_entry(row) for row in conn.execute(query))
    return found


# -- shops, the roster and account status (books) -------------------------------------------


def note_first_sync(conn: Connection, shop: str, now: datetime) -> None:
    """Remember when the shop was first synced (a later run keeps the first time)."""
    first = {"shop_domain": shop, "first_synced_at": now}
    conn.execute(upsert(conn, s.shops).on_conflict_do_nothing(), [first])


def first_synced_at(conn: Connection, shop: str) -> datetime | None:
    """When the shop was first synced, if ever."""
    query = sa.select(s.shops.c.first_synced_at).where(s.shops.c.shop_domain == shop)
    moment: datetime | None = conn.execute(query).scalar()
    return moment


def save_roster(conn: Connection, shop: str, customer_ids: Sequence[int], version: int) -> None:
    """Record these customers as live in roster ``version`` (upsert by shop and customer)."""
    rows = [
        {"shop_domain": shop, "customer_id": cid, "version": version}
        for cid in sorted(set(customer_ids))
    ]
    if not rows:
        return
    stmt = upsert(conn, s.roster)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_domain", "customer_id"],
            set_={"version": stmt.excluded.version},
        ),
        rows,
    )


def roster_version(conn: Connection, shop: str) -> int | None:
    """The newest roster version applied for the shop, if any."""
    query = sa.select(s.roster_versions.c.version).where(s.roster_versions.c.shop_domain == shop)
    version = conn.execute(query).scalar()
    return None if version is None else int(version)


def remember_roster_version(
    conn: Connection, shop: str, version: int, now: datetime, run_id: str
) -> None:
    """Record roster ``version`` as the shop's applied one."""
    row = {"shop_domain": shop, "version": version, "applied_at": now, "run_id": run_id}
    stmt = upsert(conn, s.roster_versions)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_domain"],
            set_={c: stmt.excluded[c] for c in ("version", "applied_at", "run_id")},
        ),
        [row],
    )


def absent_from_roster(conn: Connection, shop: str, version: int) -> tuple[list[int], int] | None:
    """Active accounts not in roster ``version``, and how many accounts are active.

    Returns:
        (missing customer ids, active accounts), or None when the shop has no roster rows
        of this version (then nothing is known about who is live).
    """
    live = sa.select(s.roster.c.customer_id).where(
        s.roster.c.shop_domain == shop, s.roster.c.version == version
    )
    if not conn.execute(sa.select(live.exists())).scalar():
        return None
    a = s.accounts
    active = [a.c.shop_domain == shop, a.c.status == "active"]
    missing = conn.execute(sa.select(a.c.customer_id).where(*active, a.c.customer_id.not_in(live)))
    count = conn.execute(sa.select(sa.func.count()).select_from(a).where(*active)).scalar()
    return [int(cid) for cid in missing.scalars()], int(count or 0)


def new_owners_of_orders(conn: Connection, shop: str, former: int) -> list[int]:
    """The customer now owning each order ``former`` used to own (one entry per order)."""
    o = s.orders
    query = sa.select(o.c.customer_id).where(
        o.c.shop_domain == shop,
        o.c.previous_customer_id == former,
        o.c.customer_id.is_not(None),
        o.c.customer_id != former,
    )
    return [int(owner) for owner in conn.execute(query).scalars()]


def restore_accounts(conn: Connection, shop: str, customer_ids: Sequence[int]) -> None:
    """Soft-deleted (not merged) accounts of these customers are active again."""
    a = s.accounts
    for part in chunks(list(customer_ids)):
        conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == shop, a.c.status == "deleted", a.c.customer_id.in_(part))
            .values(status="active", deleted_at=None)
        )


def soft_delete_account(
    conn: Connection,
    shop: str,
    customer_id: int,
    now: datetime,
    *,
    status: str,
    merged_into: int | None = None,
) -> None:
    """Mark an account deleted or merged (into ``merged_into``) as of ``now``."""
    a = s.accounts
    conn.execute(
        sa.update(a)
        .where(a.c.shop_domain == shop, a.c.customer_id == customer_id)
        .values(status=status, deleted_at=now, merged_into=merged_into)
    )


# -- closing a run ----------------------------------------------------------------------------


def order_history(
    conn: Connection, shop: str, customer_ids: Sequence[int]
) -> Iterator[tuple[int, int, datetime, Any, bool]]:
    """Each non-test order of these customers: (customer, order, created, net basis, eligible)."""
    o = s.orders
    for part in chunks(customer_ids):
        query = sa.select(
            o.c.customer_id, o.c.order_id, o.c.created_at, o.c.net_basis, o.c.eligible
        ).where(o.c.shop_domain == shop, o.c.customer_id.in_(part), o.c.test.is_(False))
        for cid, oid, created, net, eligible in conn.execute(query):
            yield cid, oid, created, net, bool(eligible)


def store_account_metrics(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Update accounts' tier, net spend and balances, by shop and customer."""
    # One executemany through the driver: a first close stores every account, and
    # SQLAlchemy's per-row bind processing was half of this statement's CPU time.
    bulk.update(conn, s.accounts, rows, key=("shop_domain", "customer_id"))


def purge_accounts(conn: Connection, shop: str, statuses: Iterable[str], cutoff: datetime) -> int:
    """Delete accounts in ``statuses`` deleted at or before ``cutoff``, with their data.

    Their ledger rows and roster rows go; their orders stay, owned by no one.

    Returns:
        How many accounts were purged.
    """
    a = s.accounts
    query = sa.select(a.c.customer_id).where(
        a.c.shop_domain == shop, a.c.status.in_(list(statuses)), a.c.deleted_at <= cutoff
    )
    due = list(conn.execute(query).scalars())
    for part in chunks(due):
        led, roster, orders = s.ledger, s.roster, s.orders
        conn.execute(sa.delete(led).where(led.c.shop_domain == shop, led.c.customer_id.in_(part)))
        conn.execute(
            sa.update(orders)
            .where(orders.c.shop_domain == shop, orders.c.customer_id.in_(part))
            .values(customer_id=None)
        )
        conn.execute(
            sa.delete(roster).where(roster.c.shop_domain == shop, roster.c.customer_id.in_(part))
        )
        conn.execute(sa.delete(a).where(a.c.shop_domain == shop, a.c.customer_id.in_(part)))
    return len(due)


def run_order_facts(conn: Connection, shop: str, run_id: str) -> dict[str, Any]:
    """The orders this run stored: how many, for how many customers, first and last placed."""
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
