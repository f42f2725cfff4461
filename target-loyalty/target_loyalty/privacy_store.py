"""Applying privacy requests to the database (SQLAlchemy Core), one transaction per batch.

The rules (what is personal, the placeholders, how a customer is found) are in
:mod:`target_loyalty.domain.privacy`; this module finds the rows and writes them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.domain.privacy import (
    FREE_TEXT_COLUMNS,
    REDACTED,
    Kind,
    Outcome,
    PrivacyRequest,
    matches,
    mentions,
    needles,
    redacted_account,
)
from target_loyalty.outcome import PRIVACY
from target_loyalty.records import Customer

#: Tables keyed by (shop_domain, customer_id): the data request exports their rows.
_CUSTOMER_TABLES = (s.accounts, s.orders, s.ledger, s.roster, s.recompute_queue)
_FREE_TEXT = {t.name: t for t in (s.quarantine, s.dead_letters, s.discrepancies)}
_ROW_ID = {
    "loyalty_quarantine": "quarantine_id",
    "loyalty_dead_letters": "dead_letter_id",
    "loyalty_discrepancies": "discrepancy_id",
}


def outcome_measure(kind: Kind | str, outcome: Outcome | str) -> str:
    """The run-count measure of one request's outcome (``privacy:<kind>:<outcome>``)."""
    return f"{PRIVACY}{kind}:{outcome}"


def redacted_ids(conn: Connection, shop: str, customer_ids: Sequence[int]) -> set[int]:
    """Which of these customers of the shop were redacted (all of them after shop_redact)."""
    if not customer_ids:
        return set()
    whole = sa.select(s.redacted_shops.c.shop_domain).where(s.redacted_shops.c.shop_domain == shop)
    if conn.execute(whole).first() is not None:
        return set(customer_ids)
    r = s.redacted_customers
    found: set[int] = set()
    for part in storage.chunks(sorted(set(customer_ids))):
        query = sa.select(r.c.customer_id).where(r.c.shop_domain == shop, r.c.customer_id.in_(part))
        found.update(conn.execute(query).scalars())
    return found


def redact_on_arrival(customer: Customer) -> Customer:
    """A redacted customer's record as it is stored: the placeholders, never its data."""
    values = redacted_account(customer.customer_id, "")
    return replace(
        customer,
        email=values["email"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        phone=values["phone"],
    )


class PrivacyApplier:
    """Applies one shop's batch of privacy requests inside the caller's transaction."""

    def __init__(
        self, conn: Connection, shop: str, run_id: str, now: datetime, export_dir: Path
    ) -> None:
        """Bind the transaction, shop, run and clock.

        Args:
            conn: The batch's transaction.
            shop: The shop every request of the batch belongs to.
            run_id: This target run.
            now: When the requests are applied.
            export_dir: ``privacy_export_dir``: data requests are written below it.
        """
        self.conn, self.shop, self.run_id, self.now = conn, shop, run_id, now
        self.export_dir = export_dir
        self.deleted = 0

    def apply(self, request: PrivacyRequest) -> Outcome:
        """Apply one request and write its audit row; returns its outcome."""
        audit = s.privacy_requests
        seen = self.conn.execute(
            sa.select(audit.c.outcome).where(
                audit.c.shop_domain == self.shop, audit.c.request_id == request.request_id
            )
        ).first()
        if seen is not None and request.kind is not Kind.DATA_REQUEST:
            return Outcome.ALREADY_APPLIED  # the first row stays: nothing changes
        counts: Counter[str] = Counter()
        path: str | None = None
        matched = self._customers(request)
        if request.kind is Kind.CUSTOMER_REDACT:
            for cid, values in matched.items():
                self._redact(cid, request, values, counts)
            if request.customer_id is not None:
                # Remembered even before the customer arrives: redaction wins over re-sync.
                self._remember(request.customer_id, request.request_id)
            outcome = Outcome.APPLIED if matched else Outcome.NO_MATCH
        elif request.kind is Kind.SHOP_REDACT:
            for cid, values in self._customers(request, everyone=True).items():
                self._redact(cid, request, values, counts)
            self._redact_shop_text(counts)
            stmt = storage.upsert(self.conn, s.redacted_shops)
            self.conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["shop_domain"]),
                [{"shop_domain": self.shop, "request_id": request.request_id}],
            )
            outcome = Outcome.APPLIED
        elif request.kind is Kind.CUSTOMER_DELETE:
            for cid in matched:
                counts["loyalty_accounts"] += self._delete(cid)
            outcome = Outcome.APPLIED if matched else Outcome.NO_MATCH
        else:
            if matched:
                path = str(self._export(request, matched))
                counts["exported_customers"] = len(matched)
            outcome = Outcome.EXPORTED if matched else Outcome.NO_MATCH
        row = {
            "shop_domain": self.shop,
            "request_id": request.request_id,
            "kind": request.kind.value,
            "customer_id": request.customer_id
            if request.customer_id is not None
            else (min(matched) if matched else None),
            "requested_at": request.requested_at,
            "applied_at": self.now,
            "outcome": outcome.value,
            "counts": json.dumps(dict(sorted(counts.items()))),
            "export_path": path,
            "run_id": self.run_id,
        }
        stmt = storage.upsert(self.conn, audit)
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["shop_domain", "request_id"],
                set_={c: stmt.excluded[c] for c in ("applied_at", "outcome", "counts", "run_id")},
            ),
            [row],
        )
        return outcome

    # Finding ---------------------------------------------------------------------

    def _customers(
        self, request: PrivacyRequest, *, everyone: bool = False
    ) -> dict[int, tuple[str | None, ...]]:
        """The request's customers: id -> (email, first, last, phone) as stored."""
        a = s.accounts
        query = sa.select(a.c.customer_id, a.c.email, a.c.first_name, a.c.last_name, a.c.phone)
        query = query.where(a.c.shop_domain == self.shop)
        if request.customer_id is not None and not everyone:
            query = query.where(a.c.customer_id == request.customer_id)
        found: dict[int, tuple[str | None, ...]] = {}
        for cid, email, first, last, phone in self.conn.execute(query):
            if everyone or matches(request, cid, email, phone):
                found[cid] = (email, first, last, phone)
        if request.customer_id is not None and not everyone and not found:
            o = s.orders
            has_orders = self.conn.execute(
                sa.select(o.c.order_id).where(
                    o.c.shop_domain == self.shop, o.c.customer_id == request.customer_id
                )
            ).first()
            if has_orders is not None:
                found[request.customer_id] = (None, None, None, None)
        return found

    # Redaction ---------------------------------------------------------------------

    def _remember(self, customer_id: int, request_id: str) -> None:
        stmt = storage.upsert(self.conn, s.redacted_customers)
        self.conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["shop_domain", "customer_id"]),
            [{"shop_domain": self.shop, "customer_id": customer_id, "request_id": request_id}],
        )

    def _redact(
        self,
        customer_id: int,
        request: PrivacyRequest,
        stored: tuple[str | None, ...],
        counts: Counter[str],
    ) -> None:
        a = s.accounts
        changed = self.conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == self.shop, a.c.customer_id == customer_id)
            .values(**redacted_account(customer_id, request.request_id))
        ).rowcount
        counts["loyalty_accounts"] += int(changed or 0)
        self._remember(customer_id, request.request_id)
        found = needles(customer_id, (*stored, request.email, request.phone))
        for table_name, columns in FREE_TEXT_COLUMNS.items():
            counts[table_name] += self._redact_text(table_name, columns, found)

    def _redact_text(self, table_name: str, columns: Sequence[str], found: Sequence[str]) -> int:
        """Replace whole free-text values that mention the customer; returns rows changed."""
        table = _FREE_TEXT[table_name]
        key = table.c[_ROW_ID[table_name]]
        query = sa.select(key, *(table.c[c] for c in columns))
        if "shop_domain" in table.c:
            query = query.where(table.c.shop_domain == self.shop)
        rows = self.conn.execute(query)
        hits = [row[0] for row in rows if any(mentions(v, found) for v in row[1:])]
        for part in storage.chunks(hits):
            self.conn.execute(
                sa.update(table).where(key.in_(part)).values(dict.fromkeys(columns, REDACTED))
            )
        return len(hits)

    def _redact_shop_text(self, counts: Counter[str]) -> None:
        """shop_redact: every quarantined payload and discrepancy of the shop."""
        for table in (s.quarantine, s.discrepancies):
            columns = FREE_TEXT_COLUMNS[table.name]
            changed = self.conn.execute(
                sa.update(table)
                .where(table.c.shop_domain == self.shop, table.c[columns[0]] != REDACTED)
                .values(dict.fromkeys(columns, REDACTED))
            ).rowcount
            counts[table.name] += int(changed or 0)
        counts["loyalty_dead_letters"] += self._redact_text(
            "loyalty_dead_letters", FREE_TEXT_COLUMNS["loyalty_dead_letters"], (self.shop,)
        )

    # Deletion ----------------------------------------------------------------------

    def _delete(self, customer_id: int) -> int:
        """A roster deletion of this customer, now: soft-deleted, books recomputed at close."""
        a = s.accounts
        changed = self.conn.execute(
            sa.update(a)
            .where(a.c.shop_domain == self.shop, a.c.customer_id == customer_id)
            .where(a.c.status == "active")
            .values(status="deleted", deleted_at=self.now)
        ).rowcount
        storage.queue_recompute(self.conn, self.shop, [customer_id])
        self.deleted += int(changed or 0)
        return int(changed or 0)

    # Export ------------------------------------------------------------------------

    def _export(self, request: PrivacyRequest, matched: dict[int, Any]) -> Path:
        """Write every row the target holds about the customers; returns the file's path."""
        ids = sorted(matched)
        tables: dict[str, list[dict[str, Any]]] = {}
        for table in _CUSTOMER_TABLES:
            query = sa.select(table).where(
                table.c.shop_domain == self.shop, table.c.customer_id.in_(ids)
            )
            order = list(table.primary_key.columns)
            rows = self.conn.execute(query.order_by(*order)).mappings()
            tables[table.name] = [_plain(dict(r)) for r in rows]
        if request.order_ids:
            o = s.orders
            listed = self.conn.execute(
                sa.select(o)
                .where(o.c.shop_domain == self.shop, o.c.order_id.in_(request.order_ids))
                .where(o.c.customer_id.not_in(ids))
                .order_by(o.c.order_id)
            ).mappings()
            tables["loyalty_orders"].extend(_plain(dict(r)) for r in listed)
        for table_name, columns in FREE_TEXT_COLUMNS.items():
            table = _FREE_TEXT[table_name]
            found = tuple(n for cid, values in matched.items() for n in needles(cid, values))
            query = sa.select(table)
            if "shop_domain" in table.c:
                query = query.where(table.c.shop_domain == self.shop)
            rows = self.conn.execute(query.order_by(table.c[_ROW_ID[table_name]])).mappings()
            tables[table_name] = [
                _plain(dict(r)) for r in rows if any(mentions(r[c], found) for c in columns)
            ]
        document = {
            "shop_domain": self.shop,
            "request_id": request.request_id,
            "data_request_id": request.data_request_id,
            "customer_ids": ids,
            "exported_at": self.now.isoformat(),
            "tables": tables,
        }
        folder = self.export_dir / _safe(self.shop)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        path = folder / f"{_safe(request.request_id)}.json"
        temp = path.with_suffix(".json.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
        return path


def _safe(name: str) -> str:
    """A request id as a file name: anything but letters, digits, ``-_.`` becomes ``_``."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return cleaned.lstrip(".") or "request"


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready values: times as ISO text, decimals as their exact text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif value is None or isinstance(value, bool | int | str):
            out[key] = value
        else:
            out[key] = str(value)
    return out
