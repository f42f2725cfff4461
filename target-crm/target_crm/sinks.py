"""Sinks: parse the records (errors name stream, key and field), call the domain, store.

Each batch is one transaction: the contacts, orders, events, audits, statistics, quarantined
records and the run's heartbeat commit together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from target_runtime.edge import printable_key
from target_runtime.fields import record_key
from target_runtime.quarantine import quarantine_row

from target_crm import outputs, privacy, storage
from target_crm.closing import save_manifest
from target_crm.domain.batch import CustomerBatch, fold_customers, fold_orders
from target_crm.domain.identity import customer_phone, normalize_email
from target_crm.domain.late_orders import join_orders
from target_crm.domain.models import ConsentAudit, Event, OrderSnapshot
from target_crm.domain.privacy import PrivacyRequest, parse_privacy_request
from target_crm.edge import text_problem
from target_crm.exceptions import RecordRejectedError, SyncAlreadyRunningError
from target_crm.parsing import (
    parse_customer,
    parse_manifest,
    parse_order,
    parse_roster,
)
from target_crm.reconcile import save_roster
from target_crm.runs import StatKey
from target_crm.sdk_seam import SeamSink

if TYPE_CHECKING:
    from target_crm.target import TargetCRM


def _shop_of(record: Mapping[str, Any]) -> str:
    # Statistics and locks are keyed by shop: an unusable shop_domain counts under "?".
    shop = record.get("shop_domain")
    if isinstance(shop, str) and shop and text_problem("shop_domain", shop) is None:
        return shop
    return "?"


@dataclass
class _Pending:
    """A sink's batch until it commits: parsed values, rejections and their statistics."""

    received: int = 0
    parsed: list[Any] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[StatKey] = field(default_factory=Counter)


def _pending(context: dict[str, Any]) -> _Pending:
    pending = context.get("pending")
    if pending is None:
        pending = context["pending"] = _Pending()
    return pending


class CrmSink(SeamSink):
    """Base sink: strict parsing, quarantine, statistics, one transaction per batch."""

    MAX_SIZE_DEFAULT = 10000
    # A record missing its key is quarantined by the parser, not fatal.
    sdk_checks_key_properties = False

    @staticmethod
    def parser(record: Mapping[str, Any]) -> Any:
        """Parse one raw record into its domain value (raises RecordRejectedError)."""
        raise NotImplementedError

    def __init__(
        self,
        target: TargetCRM,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        """Keep the target: it owns the store, the run ledger and the settings."""
        super().__init__(target, stream_name, schema, key_properties)
        self.crm = target

    @cached_property
    def validate_schema(self) -> bool:
        """Per-record JSON Schema validation is opt-in: the strict parser validates."""
        return bool(self.config.get("validate_records", False))

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Take the shop's sync lock on its first record, then parse and buffer the record.

        The record is parsed as it arrives and only its domain value is kept until the
        batch commits: a raw order is about 12 times larger than its parsed value, and a
        batch holds up to 10,000 of them.
        """
        shop = _shop_of(record)
        if shop != "?" and shop not in self.crm.ledger.locked:
            try:
                self.crm.ledger.acquire(shop, self.crm.now())
            except SyncAlreadyRunningError as error:
                self.crm.refuse(error)
                raise
        self._take(_pending(context), record, shop)

    def _take(self, pending: _Pending, raw: dict[str, Any], shop: str) -> None:
        """Parse one record into the pending batch, or keep its rejection."""
        pending.received += 1
        pending.stats[(shop, self.stream_name, "received", "")] += 1
        try:
            pending.parsed.append(self.parser(raw))
        except RecordRejectedError as error:
            pending.stats[
                (shop, self.stream_name, "rejected", printable_key(error.field, 128))
            ] += 1
            self.logger.warning("Quarantined: %s", error)
            pending.rejected.append(quarantine_row(error, raw, key_chars=400))

    def process_batch(self, context: dict[str, Any]) -> None:
        """Apply and commit one batch of parsed records; then let the target emit STATE."""
        pending = _pending(context)
        self.crm.drain_upstream(self.stream_name)
        stats, parsed, rejected = pending.stats, pending.parsed, pending.rejected
        now = self.crm.now()
        try:
            with self.crm.engine.begin() as conn:
                self.apply(conn, parsed, stats, now)
                self.crm.ledger.quarantine(conn, rejected, now)
                self.crm.ledger.add_stats(conn, stats)
                self.crm.ledger.heartbeat(conn, now)
        except Exception as error:
            self.crm.fail(error)
            raise
        context["pending"] = _Pending()
        self.crm.batch_log.committed(
            stream=self.stream_name,
            records=pending.received,
            applied=len(parsed),
            rejected=len(rejected),
        )
        self.crm.after_commit(self, rejected)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Apply parsed records inside the batch transaction."""
        raise NotImplementedError

    def _store_events(
        self, conn: Connection, events: list[Event], stats: Counter[StatKey], now: datetime
    ) -> None:
        inserted = outputs.insert_events(conn, events, self.crm.ledger.run_id)
        for e in inserted:
            stats[(e.shop_domain, "events", "created", e.kind)] += 1
        for e in events:
            stats[(e.shop_domain, "events", "derived", e.kind)] += 1
        outputs.enqueue(
            conn,
            self.crm.destinations,
            "event",
            [(e.shop_domain, e.event_id) for e in inserted],
            now,
        )

    def _redaction_wins(
        self,
        conn: Connection,
        keys: set[tuple[str, int]],
        stats: Counter[StatKey],
        now: datetime,
    ) -> None:
        # A customer redacted by a privacy request stays redacted when a record for it
        # arrives again (a replay, an older source): README "Privacy requests".
        for shop, n in privacy.redact_on_arrival(conn, keys, now).items():
            stats[(shop, self.stream_name, "redacted_on_arrival", "")] += n


class CustomersSink(CrmSink):
    """`customers`: contacts upserted by Shopify id, identity resolution, consent."""

    parser = staticmethod(parse_customer)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Fold the customers over the stored contacts and write the result."""
        rules = self.crm.rules
        ids = {(c.shop_domain, c.id) for c in parsed}
        emails = {(c.shop_domain, normalize_email(c.email) or "") for c in parsed}
        phones = {(c.shop_domain, customer_phone(c, rules) or "") for c in parsed}
        batch = fold_customers(
            storage.load_contacts(conn, ids),
            storage.load_owners(conn, "email_normalized", emails),
            storage.load_owners(conn, "phone_normalized", phones),
            parsed,
            rules=rules,
            now=now,
            cutovers=self.crm.cutovers(conn, {c.shop_domain for c in parsed}),
        )
        storage.save_contacts(conn, batch.contacts.values(), self.crm.ledger.run_id)
        events: list[Event] = []
        audits: list[ConsentAudit] = []
        skipped: list[tuple[str, str, str]] = []
        for customer, outcome in batch.outcomes:
            self.crm.note_source_time(customer.shop_domain, customer.updated_at)
            key = f"{customer.shop_domain}/{customer.id}"
            stats[(customer.shop_domain, "customers", outcome.outcome, outcome.reason or "")] += 1
            if outcome.reason:
                skipped.append(("customers", key, outcome.reason))
            events.extend(outcome.events)
            audits.extend(outcome.audits)
        outputs.save_audits(conn, audits, self.crm.ledger.run_id)
        outputs.save_duplicates(conn, [o.duplicate for _, o in batch.outcomes if o.duplicate])
        touched = set(batch.contacts) | self._fold_duplicates(conn, batch)
        touched |= {
            (c.shop_domain, c.merged_into) for c in batch.contacts.values() if c.merged_into
        }
        events.extend(self._join_late_orders(conn, batch, stats, now))
        self._store_events(conn, events, stats, now)
        self.crm.ledger.list_skipped(conn, skipped, now)
        storage.refresh_aggregates(conn, touched)
        changed = [(s, f"{s}:{c}") for s, c in sorted(touched)]
        outputs.enqueue(conn, self.crm.destinations, "contact", changed, now)
        self._redaction_wins(conn, ids | touched, stats, now)

    @staticmethod
    def _fold_duplicates(conn: Connection, batch: CustomerBatch) -> set[tuple[str, int]]:
        """An existing contact merged by an update: its orders and events move over."""
        kept: set[tuple[str, int]] = set()
        for _, outcome in batch.outcomes:
            contact = outcome.contact
            if outcome.outcome != "updated" or contact is None or outcome.duplicate is None:
                continue
            if contact.merged_into is not None:
                storage.move_contact(
                    conn, contact.shop_domain, contact.customer_id, contact.merged_into
                )
                kept.add((contact.shop_domain, contact.merged_into))
        return kept

    def _join_late_orders(
        self, conn: Connection, batch: CustomerBatch, stats: Counter[StatKey], now: datetime
    ) -> list[Event]:
        """A contact created late (it gained the identifier) takes over its earlier orders."""
        created = {(c.shop_domain, c.id) for c, o in batch.outcomes if o.outcome == "created"}
        orphans: dict[tuple[str, int], list[OrderSnapshot]] = {}
        for snapshot in storage.load_orphan_orders(conn, created):
            key = (snapshot.shop_domain, int(snapshot.customer_id or 0))
            orphans.setdefault(key, []).append(snapshot)
        cutovers = self.crm.cutovers(conn, {shop for shop, _ in orphans})
        events: list[Event] = []
        for key, snapshots in sorted(orphans.items()):
            contact = batch.contacts[key]
            joined = join_orders(
                snapshots,
                contact.merged_into or contact.customer_id,
                rules=self.crm.rules,
                now=now,
                cutover=cutovers.get(key[0]),
            )
            storage.save_snapshots(conn, joined.snapshots)
            events.extend(joined.events)
            for reason in joined.suppressed:
                stats[(key[0], "events", "suppressed", reason)] += 1
        return events


class OrdersSink(CrmSink):
    """`orders`: order snapshots, order events, lifetime value and order count."""

    parser = staticmethod(parse_order)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Fold the order versions over the stored snapshots and write the result."""
        keys = {(o.shop_domain, o.id) for o in parsed}
        known = storage.load_snapshots(conn, keys)
        owners = {(o.shop_domain, o.customer_id) for o in parsed if o.customer_id is not None}
        batch = fold_orders(
            known,
            storage.load_merge_links(conn, owners),
            parsed,
            rules=self.crm.rules,
            now=now,
            cutovers=self.crm.cutovers(conn, {o.shop_domain for o in parsed}),
        )
        storage.save_snapshots(conn, batch.snapshots.values())
        events: list[Event] = []
        skipped: list[tuple[str, str, str]] = []
        for order, outcome in batch.outcomes:
            self.crm.note_source_time(order.shop_domain, order.updated_at)
            stats[(order.shop_domain, "orders", outcome.outcome, outcome.reason or "")] += 1
            if outcome.reason:
                skipped.append(("orders", f"{order.shop_domain}/{order.id}", outcome.reason))
            for reason in outcome.suppressed:
                stats[(order.shop_domain, "events", "suppressed", reason)] += 1
                skipped.append(("orders", f"{order.shop_domain}/{order.id}", reason))
            events.extend(outcome.events)
        self._store_events(conn, events, stats, now)
        self.crm.ledger.list_skipped(conn, skipped, now)
        deltas = aggregate_deltas(known, batch.snapshots)
        storage.add_to_aggregates(conn, deltas)
        changed = [(s, f"{s}:{c}") for s, c in deltas]
        outputs.enqueue(conn, self.crm.destinations, "contact", changed, now)
        self._redaction_wins(conn, owners, stats, now)


def aggregate_deltas(
    before: Mapping[tuple[str, int], OrderSnapshot], after: Mapping[tuple[str, int], OrderSnapshot]
) -> dict[tuple[str, int], tuple[int, Decimal]]:
    """What the changed orders add to (or take from) each contact's count and value."""
    deltas: dict[tuple[str, int], tuple[int, Decimal]] = {}
    for key, new in after.items():
        for snapshot, sign in ((before.get(key), -1), (new, 1)):
            if snapshot is None or snapshot.contact_customer_id is None:
                continue
            owner = (snapshot.shop_domain, snapshot.contact_customer_id)
            n, v = deltas.get(owner, (0, Decimal(0)))
            deltas[owner] = (
                n + sign * int(snapshot.counts_as_order),
                v + sign * snapshot.net_value,
            )
    return deltas


class RosterSink(CrmSink):
    """`customer_roster`: the full list of live customers; absences reconciled at the end."""

    parser = staticmethod(parse_roster)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Remember which customers this run's roster lists."""
        # Counted listed (or skipped with the reason) when the run decides on the roster.
        del now, stats
        save_roster(conn, set(parsed), self.crm.ledger.run_id)

    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION: remember the version; deletions wait for the manifest."""
        self.crm.roster_activated(new_version)


class ManifestSink(CrmSink):
    """`sync_manifest`: the tap's own account of the run, kept to prove it at the end."""

    parser = staticmethod(parse_manifest)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Store the manifest rows; the run's outcome is decided when the input ends."""
        save_manifest(conn, parsed, self.crm.ledger.run_id, now)
        for part in parsed:
            stats[(part.shop_domain, "sync_manifest", "listed", "")] += 1


class PrivacySink(CrmSink):
    """`privacy_requests`: redaction, deletion and export requests, each applied once."""

    parser = staticmethod(parse_privacy_request)

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Apply each request in queue order and audit it (README "Privacy requests")."""
        base = Path(str(self.config.get("privacy_export_dir") or "output/privacy-exports"))
        for request in sorted(parsed, key=lambda r: (r.queue_position, r.request_id)):
            shop = request.shop_domain
            if privacy.seen(conn, shop, request.request_id):
                stats[(shop, self.stream_name, "unchanged", privacy.ALREADY_APPLIED)] += 1
                continue
            outcome, counts, path = self._one(conn, request, base, now)
            privacy.audit(
                conn,
                request,
                outcome=outcome,
                counts=counts,
                now=now,
                run_id=self.crm.ledger.run_id,
                path=path,
            )
            applied = outcome in (privacy.APPLIED, privacy.EXPORTED)
            reason = request.kind if applied else outcome
            stats[(shop, self.stream_name, "updated" if applied else "unchanged", reason)] += 1

    @staticmethod
    def _one(
        conn: Connection, request: PrivacyRequest, base: Path, now: datetime
    ) -> tuple[str, dict[str, int], Path | None]:
        shop = request.shop_domain
        if request.kind == "shop_redact":
            ids = privacy.shop_customers(conn, shop)
        else:
            ids = privacy.match(conn, request)
        if not ids:
            return privacy.NO_MATCH, {}, None
        if request.kind == "customer_delete":
            return privacy.APPLIED, privacy.delete(conn, shop, ids, now), None
        if request.kind == "data_request":
            path, counts = privacy.export(conn, shop, ids, request, base)
            return privacy.EXPORTED, counts, path
        return privacy.APPLIED, privacy.redact(conn, shop, ids, request, now), None


class UnsupportedStreamSink(CrmSink):
    """Any other stream: nothing to apply, but every record is counted as skipped."""

    # Keep the Singer spec check (missing key properties fail) for foreign streams.
    sdk_checks_key_properties = True

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Count the record as skipped (no shop lock: these records change nothing)."""
        pending = _pending(context)
        pending.received += 1
        shop = _shop_of(record)
        pending.stats[(shop, self.stream_name, "received", "")] += 1
        pending.stats[(shop, self.stream_name, "skipped", "unsupported_stream")] += 1

    def apply(
        self, conn: Connection, parsed: list[Any], stats: Counter[StatKey], now: datetime
    ) -> None:
        """Nothing to store: the statistics say why."""
        del conn, parsed, stats, now


__all__ = [
    "CustomersSink",
    "ManifestSink",
    "OrdersSink",
    "PrivacySink",
    "RosterSink",
    "UnsupportedStreamSink",
    "record_key",
]
