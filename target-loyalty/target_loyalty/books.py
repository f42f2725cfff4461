"""Keeping the books: one transaction per batch, calling the domain rules.

This is the only place where parsed records, the domain and storage meet; the sinks
hand it parsed batches, and it commits each batch (with its statistics) atomically.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine
from target_runtime.merge import OrderOwnerChange, merged_owner

from target_loyalty import outcome as run_outcome
from target_loyalty import privacy_store, storage
from target_loyalty.domain.earning import apply_order, clamp_to_balance
from target_loyalty.domain.lifecycle import plan_merge, signup_entry
from target_loyalty.domain.model import (
    Discrepancy,
    LedgerEntry,
    LoyaltyRules,
    Order,
    SkipReason,
)
from target_loyalty.domain.privacy import PrivacyRequest
from target_loyalty.domain.roster import deletion_refusal
from target_loyalty.domain.versions import newer_known_version
from target_loyalty.exceptions import RecordError, RosterDeletionRefusedError
from target_loyalty.records import Customer, Manifest
from target_loyalty.runs import RunRegistry

Rejects = Sequence[tuple[RecordError, dict[str, Any]]]


def _tally(received: int, rejects: Rejects) -> Counter[str]:
    """A batch's counters: every record received ends applied, skipped or quarantined."""
    return Counter({"received": received, "quarantined": len(rejects)})


def skipped(reason: SkipReason) -> str:
    """The counter of records skipped for a reason."""
    return f"{run_outcome.SKIPPED}{reason.value}"


class Books:
    """Applies parsed batches to the ledger for one target run."""

    def __init__(
        self,
        engine: Engine,
        rules: LoyaltyRules,
        registry: RunRegistry,
        program_start: datetime | None = None,
    ) -> None:
        """Bind the run.

        Args:
            engine: The database.
            rules: The loyalty program's rules.
            registry: The run's locks and statistics.
            program_start: When the program started; customers created earlier are
                pre-existing (default: the shop's first sync into this database).
        """
        self.engine = engine
        self.rules = rules
        self.registry = registry
        self.run_id = registry.run_id
        self.program_start = program_start

    def apply_orders(
        self, shop: str, orders: Sequence[Order], rejects: Rejects, now: datetime
    ) -> Counter[str]:
        """Book a batch of orders (in arrival order) in one transaction; returns its counts."""
        tally = _tally(len(orders) + len(rejects), rejects)
        with self.engine.begin() as conn:
            existing = storage.entries_for_orders(conn, shop, [o.order_id for o in orders])
            balances = (
                None
                if self.rules.allow_negative_balance
                else storage.balances(conn, shop, {o.customer_id for o in orders if o.customer_id})
            )
            # Rows are inserted at the end of the batch; a later version of the same order
            # in this batch may move them, exactly as it moves rows already stored.
            pending: dict[int, list[LedgerEntry]] = defaultdict(list)
            notes: list[Discrepancy] = []
            facts: dict[int, dict[str, Any]] = {}
            booked = storage.booked_orders(conn, shop, [o.order_id for o in orders])
            booked_versions = {oid: version for oid, (version, _owner) in booked.items()}
            # Closing recomputes whoever owns, owned or held rows of an order of the batch.
            changed: set[int | None] = set()
            for order in orders:
                stale = _stale(order, booked_versions)
                if stale is not None:
                    notes.append(stale)
                    tally[skipped(SkipReason.STALE_VERSION)] += 1
                    continue
                booked_versions[order.order_id] = order.updated_at
                outcome = apply_order(order, self.rules, existing.get(order.order_id, []))
                reason = outcome.skip_reason
                tally[skipped(reason) if reason else "applied"] += 1
                entries = list(outcome.new_entries)
                if balances is not None:
                    entries = clamp_to_balance(entries, balances)
                owner = order.customer_id
                changed.update((order.customer_id, booked.get(order.order_id, (None, None))[1]))
                changed.update(outcome.reassign_from)
                for holder in sorted(outcome.reassign_from):
                    assert owner is not None
                    storage.move_entries(conn, shop, holder, owner, order_id=order.order_id)
                if outcome.reassign_from:
                    pending[order.order_id] = _after_move(pending[order.order_id], owner)
                existing[order.order_id] = (
                    _after_move(existing.get(order.order_id, []), owner) + entries
                )
                pending[order.order_id].extend(entries)
                notes.extend(outcome.discrepancies)
                facts[order.order_id] = _order_facts(
                    shop, order, outcome.eligible, outcome.net_basis, self.run_id
                )
            new = [entry for rows in pending.values() for entry in rows]
            owners = {o.customer_id for o in orders if o.customer_id}
            # Orders keep no email or phone here: a redacted owner's order is only counted.
            redacted = privacy_store.redacted_ids(conn, shop, sorted(owners))
            tally["redacted_on_arrival"] += sum(1 for o in orders if o.customer_id in redacted)
            storage.ensure_accounts(conn, shop, owners)
            storage.insert_entries(conn, shop, self.run_id, new, now)
            storage.upsert_orders(conn, list(facts.values()))
            storage.queue_recompute(conn, shop, changed)
            storage.record_discrepancies(
                conn, run_id=self.run_id, shop=shop, stream="orders", notes=notes, now=now
            )
            storage.quarantine(conn, self.run_id, shop, rejects, now)
            run_outcome.add_counts(conn, self.run_id, shop, "orders", tally)
            self.registry.heartbeat(
                conn,
                shop,
                now,
                orders_synced=len(orders),
                points_issued=sum(e.points for e in new),
                discrepancies=len(notes) + len(rejects),
                quarantined=len(rejects),
            )
        return tally

    def apply_customers(
        self, shop: str, customers: Sequence[Customer], rejects: Rejects, now: datetime
    ) -> Counter[str]:
        """Upsert accounts and book signup bonuses in one transaction; returns its counts.

        Newer wins: a customer version older (``updated_at``) than the stored one changes
        nothing and is counted ``stale_version``.
        """
        tally = _tally(len(customers) + len(rejects), rejects)
        with self.engine.begin() as conn:
            stored = storage.account_versions(conn, shop, [c.customer_id for c in customers])
            latest: dict[int, Customer] = {}
            notes: list[Discrepancy] = []
            for c in customers:
                newer = newer_known_version(
                    c.updated_at, stored.get(c.customer_id), _updated(latest, c)
                )
                if newer is not None:
                    tally[skipped(SkipReason.STALE_VERSION)] += 1
                    notes.append(_stale_customer(c, newer))
                    continue
                latest[c.customer_id] = c
                tally["applied"] += 1
            # Redaction wins over re-sync: a redacted customer is stored with placeholders.
            for cid in privacy_store.redacted_ids(conn, shop, list(latest)):
                latest[cid] = privacy_store.redact_on_arrival(latest[cid])
                tally["redacted_on_arrival"] += 1
            start = self.program_start or self._first_synced(conn, shop, now)
            storage.upsert_accounts(conn, [_account_row(shop, c) for c in latest.values()])
            bonuses = [
                signup_entry(c.customer_id, c.created_at, start, self.rules)
                for c in latest.values()
            ]
            entries = [b for b in bonuses if b is not None]
            storage.insert_entries(conn, shop, self.run_id, entries, now)
            storage.queue_recompute(conn, shop, latest)
            storage.record_discrepancies(
                conn, run_id=self.run_id, shop=shop, stream="customers", notes=notes, now=now
            )
            storage.quarantine(conn, self.run_id, shop, rejects, now)
            run_outcome.add_counts(conn, self.run_id, shop, "customers", tally)
            self.registry.heartbeat(
                conn,
                shop,
                now,
                customer_records=len(customers),
                discrepancies=len(rejects) + len(notes),
                quarantined=len(rejects),
            )
        return tally

    def apply_privacy(
        self,
        shop: str,
        requests: Sequence[PrivacyRequest],
        rejects: Rejects,
        now: datetime,
        export_dir: Path,
    ) -> Counter[str]:
        """Apply privacy requests in one transaction, in queue order; returns its counts.

        Besides ``applied``/``quarantined``, counts ``privacy:<kind>:<outcome>`` per request.
        """
        tally = _tally(len(requests) + len(rejects), rejects)
        with self.engine.begin() as conn:
            applier = privacy_store.PrivacyApplier(conn, shop, self.run_id, now, export_dir)
            for request in sorted(requests, key=lambda r: r.queue_position):
                result = applier.apply(request)
                tally["applied"] += 1
                tally[privacy_store.outcome_measure(request.kind, result)] += 1
            storage.quarantine(conn, self.run_id, shop, rejects, now)
            run_outcome.add_counts(conn, self.run_id, shop, "privacy_requests", tally)
            self.registry.heartbeat(
                conn,
                shop,
                now,
                discrepancies=len(rejects),
                quarantined=len(rejects),
                customers_deleted=applier.deleted,
            )
        return tally

    def _first_synced(self, conn: Connection, shop: str, now: datetime) -> datetime:
        return storage.first_synced_at(conn, shop) or now

    def apply_roster(
        self, shop: str, ids: Sequence[int], version: int, rejects: Rejects, now: datetime
    ) -> Counter[str]:
        """Record which customers are live in this roster version; returns its counts.

        A version older than the one last applied is stale: counted, never stored, so it
        can neither restore nor delete anyone.
        """
        tally = _tally(len(ids) + len(rejects), rejects)
        with self.engine.begin() as conn:
            applied = storage.roster_version(conn, shop)
            if applied is not None and version < applied:
                tally[skipped(SkipReason.STALE_ROSTER_VERSION)] += len(ids)
                storage.quarantine(conn, self.run_id, shop, rejects, now)
                run_outcome.add_counts(conn, self.run_id, shop, "customer_roster", tally)
                self.registry.heartbeat(conn, shop, now, quarantined=len(rejects))
                return tally
            tally["applied"] += len(ids)
            storage.save_roster(conn, shop, ids, version)
            storage.restore_accounts(conn, shop, sorted(set(ids)))
            storage.quarantine(conn, self.run_id, shop, rejects, now)
            run_outcome.add_counts(conn, self.run_id, shop, "customer_roster", tally)
            self.registry.heartbeat(
                conn, shop, now, discrepancies=len(rejects), quarantined=len(rejects)
            )
        return tally

    def note_ignored(
        self, shop: str, stream: str, records: Sequence[dict[str, Any]], now: datetime
    ) -> None:
        """Count records of a stream this target does not read, one discrepancy each."""
        notes = [
            Discrepancy(
                f"{stream}:{r.get('id', '?')}",
                "stream",
                f"stream {stream!r} is not read by target-loyalty",
            )
            for r in records
        ]
        counts = {"received": len(records), skipped(SkipReason.UNKNOWN_STREAM): len(records)}
        with self.engine.begin() as conn:
            storage.record_discrepancies(
                conn, run_id=self.run_id, shop=shop, stream=stream, notes=notes, now=now
            )
            run_outcome.add_counts(conn, self.run_id, shop, stream, counts)
            self.registry.heartbeat(conn, shop, now, discrepancies=len(notes))

    def apply_manifest(
        self, shop: str, rows: Sequence[Manifest], rejects: Rejects, now: datetime
    ) -> Counter[str]:
        """Keep the tap's manifest rows (reconciled at close); returns the batch's counts."""
        tally = _tally(len(rows) + len(rejects), rejects)
        tally["applied"] += len(rows)
        with self.engine.begin() as conn:
            run_outcome.store_manifest(conn, self.run_id, shop, rows, now)
            storage.quarantine(conn, self.run_id, shop, rejects, now)
            run_outcome.add_counts(conn, self.run_id, shop, "sync_manifest", tally)
            self.registry.heartbeat(
                conn, shop, now, discrepancies=len(rejects), quarantined=len(rejects)
            )
        return tally

    def last_roster_version(self, shop: str) -> int | None:
        """The newest roster version applied for the shop, if any."""
        with self.engine.connect() as conn:
            return storage.roster_version(conn, shop)

    def activate_roster(
        self, shop: str, version: int, now: datetime, max_share: float
    ) -> tuple[int, int]:
        """Soft-delete or merge the shop's customers absent from this roster version.

        Returns:
            (customers soft-deleted, customers merged away).

        Raises:
            RosterDeletionRefusedError: It would delete more than ``max_share`` of the
                shop's live accounts; nothing is applied.
        """
        with self.engine.begin() as conn:
            absent = storage.absent_from_roster(conn, shop, version)
            if absent is None:
                return 0, 0  # no roster rows of this version for the shop: nothing is known
            missing, accounts = absent
            refusal = deletion_refusal(shop, len(missing), accounts, max_share)
            if refusal is not None:
                raise RosterDeletionRefusedError(refusal)
            deleted = merged = 0
            for loser in missing:
                kept = _merge_target(conn, shop, loser)
                if kept is None:
                    storage.soft_delete_account(conn, shop, loser, now, status="deleted")
                    deleted += 1
                else:
                    self._merge(conn, shop, loser, kept, now)
                    merged += 1
            self._remember_version(conn, shop, version, now)
            storage.queue_recompute(conn, shop, missing)
            self.registry.heartbeat(
                conn, shop, now, customers_deleted=deleted, customers_merged=merged
            )
        return deleted, merged

    def _remember_version(self, conn: Connection, shop: str, version: int, now: datetime) -> None:
        storage.remember_roster_version(conn, shop, version, now, self.run_id)

    def _merge(self, conn: Connection, shop: str, loser: int, kept: int, now: datetime) -> None:
        held = storage.entries_for_customers(conn, shop, [loser, kept])
        plan = plan_merge(loser, kept, held.get(loser, []), held.get(kept, []), now)
        storage.move_entries(conn, shop, loser, kept)
        storage.insert_entries(conn, shop, self.run_id, [plan.audit], now)
        storage.queue_recompute(conn, shop, [kept])
        storage.soft_delete_account(conn, shop, loser, now, status="merged", merged_into=kept)


def _updated(latest: dict[int, Customer], c: Customer) -> datetime | None:
    newest = latest.get(c.customer_id)
    return None if newest is None else newest.updated_at


def _stale_customer(customer: Customer, latest: datetime) -> Discrepancy:
    return Discrepancy(
        f"customers:{customer.customer_id}",
        "updated_at",
        f"older than the stored version ({latest.isoformat()}): ignored",
    )


def _stale(order: Order, booked: dict[int, datetime]) -> Discrepancy | None:
    """An older version of an order than the one booked is ignored (newer wins), so
    replaying any input never flips an order back and forth."""
    latest = newer_known_version(order.updated_at, booked.get(order.order_id))
    if latest is None:
        return None
    return Discrepancy(
        f"orders:{order.order_id}",
        "updated_at",
        f"older than the booked version ({latest.isoformat()}): ignored",
    )


def _after_move(rows: list[LedgerEntry], owner: int | None) -> list[LedgerEntry]:
    """The in-memory twin of ``storage.move_entries`` for the rest of the batch."""
    if owner is None:
        return rows
    own = {(e.source, e.kind) for e in rows if e.customer_id == owner}
    moved = [
        replace(e, customer_id=owner)
        for e in rows
        if e.customer_id != owner and (e.source, e.kind) not in own
    ]
    return [e for e in rows if e.customer_id == owner] + moved


def _order_facts(shop: str, order: Order, eligible: bool, net: Any, run_id: str) -> dict[str, Any]:
    return {
        "shop_domain": shop,
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "currency": order.currency,
        "test": order.test,
        "cancelled": order.cancelled_at is not None,
        "eligible": eligible,
        "net_basis": net,
        "last_run_id": run_id,
    }


def _account_row(shop: str, c: Customer) -> dict[str, Any]:
    return {
        "shop_domain": shop,
        "customer_id": c.customer_id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "shopify_state": c.state,
        "tags": ",".join(c.tags),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "status": "active",
        "deleted_at": None,
        "merged_into": None,
    }


def _merge_target(conn: Connection, shop: str, loser: int) -> int | None:
    """The customer that now owns most of the loser's former orders, if any (``merged_owner``)."""
    owners = storage.new_owners_of_orders(conn, shop, loser)
    return merged_owner(loser, (OrderOwnerChange(loser, owner) for owner in owners))
