"""TargetCRM: contacts and order events with CRM semantics, in an embedded CRM store."""

from __future__ import annotations

import copy
import gc
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from singer_sdk.sinks import Sink
from sqlalchemy.engine import Connection
from target_runtime.run_log import BatchLog
from target_runtime.singer_input import DeadLetter, ResilientSingerReader
from target_runtime.state_after_commit import StateAfterCommit

from target_crm.closing import load_manifest, run_shops, save_assessment, shop_stats
from target_crm.delivery.config import delivery_from_config
from target_crm.delivery.runner import RunDelivery
from target_crm.domain.models import (
    PAID_FINANCIAL_STATUSES,
    ConsentSource,
    CrmRules,
    DuplicatePolicy,
    Identifier,
)
from target_crm.domain.reconciliation import (
    Assessment,
    RunOutcome,
    assess_run,
    sync_end,
    tally_streams,
    worst,
)
from target_crm.exceptions import (
    CrmConfigError,
    DeliveryIncompleteError,
    RosterDeletionGuardError,
    RunUnreconciledError,
    TooManyRejectedRecordsError,
)
from target_crm.reconcile import apply_roster, gate_roster, roster_shops
from target_crm.runs import RunLedger, StatKey, load_cutovers, record_cutovers
from target_crm.sdk_seam import SeamTarget
from target_crm.settings import CONFIG_SCHEMA, database_url
from target_crm.sinks import (
    CrmSink,
    CustomersSink,
    ManifestSink,
    OrdersSink,
    PrivacySink,
    RosterSink,
    UnsupportedStreamSink,
)
from target_crm.storage import create_store

SINKS: dict[str, type[CrmSink]] = {
    "customers": CustomersSink,
    "orders": OrdersSink,
    "customer_roster": RosterSink,
    "sync_manifest": ManifestSink,
    "privacy_requests": PrivacySink,
}
# A stream's batch needs these streams' buffered records committed first.
UPSTREAM = {
    "orders": ("customers",),
    "customer_roster": ("customers", "orders"),
    "privacy_requests": ("customers", "orders"),
    "sync_manifest": ("customers", "orders", "customer_roster", "privacy_requests"),
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _paid_statuses(config: Mapping[str, Any]) -> frozenset[str]:
    raw = config.get("paid_financial_statuses")
    if raw is None:
        return PAID_FINANCIAL_STATUSES
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        msg = "paid_financial_statuses must be a list of Shopify financial statuses"
        raise ValueError(msg)
    return frozenset(v.strip().upper() for v in raw)


def _share(config: Mapping[str, Any]) -> Decimal:
    raw = config.get("max_roster_deletion_share", 0.05)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        msg = "max_roster_deletion_share must be a number between 0 and 1"
        raise ValueError(msg)
    try:
        share = Decimal(str(raw))
    except ArithmeticError:
        share = Decimal(-1)
    if not share.is_finite() or not Decimal(0) <= share <= Decimal(1):
        msg = f"max_roster_deletion_share must be a number between 0 and 1, got {raw!r}"
        raise ValueError(msg)
    return share


class TargetCRM(StateAfterCommit, SeamTarget):
    """Singer target: Shopify customers and orders into a CRM store (SQLite or PostgreSQL)."""

    name = "target-crm"
    message_reader_class = ResilientSingerReader
    config_jsonschema = CONFIG_SCHEMA.to_dict()
    default_sink_class = UnsupportedStreamSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the store and start the run (recorded in `sync_runs`)."""
        super().__init__(*args, **kwargs)
        # Large batches keep ~10^5 parsed dicts alive; the default GC thresholds would
        # rescan them on every few hundred allocations (measured: >25% of the run).
        gc.set_threshold(100_000, 50, 100)
        self.max_parallelism = 1
        self.now = _utcnow
        # One INFO line per committed batch and one at the end of the run.
        self.batch_log = BatchLog(self.logger, rejected_word="quarantined")
        self.rules = self._rules()
        delivery = delivery_from_config(self.config, self.rules.identifier.value)
        # Queued for the destinations that are on (credentials set) and any other named.
        named = list(self.config.get("destinations") or [])
        self.destinations: list[str] = sorted(set(named) | set(delivery.names))
        self.engine = create_store(database_url(self.config))
        self.ledger = RunLedger(
            self.engine, uuid.uuid4().hex, float(self.config.get("lock_lease_seconds", 600))
        )
        self.ledger.start(self.now())
        # A lambda, not `self.now`: tests replace the clock after construction.
        self.delivery = (
            RunDelivery(self.engine, delivery, self.ledger.run_id, lambda: self.now())  # noqa: PLW0108
            if delivery.adapters
            else None
        )
        # A line that is no valid Singer message is kept in crm_dead_letters; the run goes on.
        self.message_reader.on_dead_letter = self.record_dead_letter  # type: ignore[attr-defined]
        self._watermarks: dict[str, datetime] = {}
        self._roster_version: int | None = None
        self._input_complete = False
        self._finished = False

    def _rules(self) -> CrmRules:
        c = self.config
        try:
            return CrmRules(
                identifier=Identifier(c.get("identifier", "email")),
                duplicate_policy=DuplicatePolicy(c.get("duplicate_policy", "flag")),
                consent_source=ConsentSource(c.get("consent_source_of_truth", "shopify")),
                order_placed_event_name=c.get("order_placed_event_name", "Order Placed"),
                event_name_prefix=c.get("event_name_prefix", ""),
                event_retention_days=c.get("event_retention_days"),
                default_calling_code=c.get("default_calling_code"),
                default_country=c.get("default_country") or None,
                metafield_attributes=dict(c.get("metafield_attributes") or {}),
                paid_financial_statuses=_paid_statuses(c),
                max_roster_deletion_share=_share(c),
            )
        except ValueError as error:
            raise CrmConfigError(str(error), errors=[str(error)]) from error

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """The CRM sink of a contract stream; other streams are counted as skipped."""
        return SINKS.get(stream_name, UnsupportedStreamSink)

    # STATE: printed as soon as everything before it is committed (StateAfterCommit: a new
    # STATE drains every sink; a state already printed is not printed again).

    def record_dead_letter(self, letter: DeadLetter) -> None:
        """Keep a line that is no valid Singer message, in its own short transaction."""
        with self.engine.begin() as conn:
            self.ledger.dead_letter(conn, letter, self.now())
        self.logger.warning("Dead letter, input line %d: %s", letter.line_number, letter.reason)
        last = {"stream": "input", "record_key": f"line {letter.line_number}", "field": "line"}
        self._count_rejects(1, {**last, "reason": letter.reason})

    def after_commit(self, sink: Sink, rejected: Sequence[dict[str, Any]]) -> None:
        """After a batch commits: emit STATE if nothing else is pending; check rejects."""
        others_empty = all(s.current_size == 0 for s in self.active_sinks.values() if s is not sink)
        if self.latest_state and others_empty:
            self.write_state_message(copy.deepcopy(self.latest_state))
        self._count_rejects(len(rejected), rejected[-1] if rejected else {})
        # Delivery reads the outbox the batch just committed. STATE goes first: it only
        # says the input is stored, and the outbox (not the Singer state) is what delivery
        # resumes from, so a crash while sending loses nothing and a slow platform does
        # not hold back the bookmark.
        if self.delivery is not None:
            self.delivery.after_batch()

    def _count_rejects(self, count: int, last: Mapping[str, Any]) -> None:
        """Fail the run once more records and lines were rejected than allowed."""
        self.ledger.rejected += count
        limit = int(self.config.get("max_rejected_records", 1000))
        if self.ledger.rejected > limit:
            msg = (
                f"{self.ledger.rejected} records quarantined or dead-lettered, more than "
                f"max_rejected_records={limit}; last: {last.get('stream')} "
                f"{last.get('record_key')} field '{last.get('field')}': {last.get('reason')}"
            )
            error = TooManyRejectedRecordsError(msg)
            self.fail(error)
            raise error

    def cutovers(self, conn: Connection, shops: set[str]) -> dict[str, datetime | None]:
        """Each shop's silent-backfill cut-over: the configured one, else the recorded one."""
        configured = self.config.get("automation_cutover")
        if configured:
            at = datetime.fromisoformat(configured).astimezone(UTC)
            return dict.fromkeys(shops, at)
        return load_cutovers(conn, shops)

    def drain_upstream(self, stream_name: str) -> None:
        """Commit the buffered records of the streams this stream's batch depends on."""
        for name in UPSTREAM.get(stream_name, ()):
            if self.sink_exists(name):
                self.drain_one(self.get_sink(name))

    # Run life-cycle --------------------------------------------------------------------

    def note_source_time(self, shop: str, at: datetime) -> None:
        """Track the newest Shopify time seen per shop: the cut-over when the run completes."""
        if at > self._watermarks.get(shop, at.min.replace(tzinfo=UTC)):
            self._watermarks[shop] = at

    def roster_activated(self, version: int) -> None:
        """Remember the roster version; its deletions wait for the manifest (end of input)."""
        self._roster_version = version

    def _gate_rosters(self) -> None:
        """Apply each shop's roster only on its complete manifest row, within the share.

        Raises:
            RosterDeletionGuardError: a roster would delete more than the setting allows.
        """
        run_id, now = self.ledger.run_id, self.now()
        failures: list[str] = []
        with self.engine.begin() as conn:
            for shop in roster_shops(conn, run_id):
                tally = tally_streams(shop_stats(conn, run_id, shop)).get("customer_roster")
                received = tally.received if tally else 0
                decision, missing = gate_roster(
                    conn,
                    shop,
                    run_id=run_id,
                    received=received,
                    version=self._roster_version,
                    max_share=self.rules.max_roster_deletion_share,
                )
                stats: Counter[StatKey] = Counter()
                if decision.apply:
                    stats += apply_roster(
                        conn,
                        shop,
                        missing,
                        run_id=run_id,
                        version=self._roster_version,
                        rules=self.rules,
                        now=now,
                        destinations=self.destinations,
                    )
                    stats[(shop, "customer_roster", "listed", "")] += received
                else:
                    stats[(shop, "customer_roster", "skipped", decision.reason)] += received
                if decision.fails_run:
                    failures.append(decision.message)
                self.ledger.add_stats(conn, stats)
        if failures:
            raise RosterDeletionGuardError("; ".join(failures))

    def process_endofpipe(self) -> None:
        """All input read: commit, reconcile, decide each shop's outcome, record the end.

        Raises:
            RunUnreconciledError: after committing, when a manifest check fails.
        """
        self._input_complete = True
        try:
            super().process_endofpipe()
            self._gate_rosters()
            delivered, note = self.delivery.close() if self.delivery else (True, "")
            outcome, message = self._complete(delivered, note)
        except Exception as error:
            self.fail(error)
            raise
        self.batch_log.summary(outcome=outcome.value)
        if not delivered:
            raise DeliveryIncompleteError(note)
        if outcome is RunOutcome.UNRECONCILED:
            raise RunUnreconciledError(message)
        if outcome is RunOutcome.INCOMPLETE:
            self.logger.warning("Run %s incomplete: %s", self.ledger.run_id, message)

    def _complete(self, delivered: bool = True, note: str = "") -> tuple[RunOutcome, str]:
        now = self.now()
        run_id = self.ledger.run_id
        with self.engine.begin() as conn:
            assessments: dict[str, Assessment] = {}
            for shop in run_shops(conn, run_id):
                stats = tally_streams(shop_stats(conn, run_id, shop))
                assessment = assess_run(shop, load_manifest(conn, run_id, shop), stats)
                save_assessment(conn, run_id, shop, assessment, now)
                assessments[shop] = assessment
            self._record_cutovers(conn, assessments)
        outcome = worst(a.outcome for a in assessments.values())
        message = " | ".join(a.message for a in assessments.values() if a.message)
        if not assessments:
            message = "the input carried no records and no sync_manifest"
        if not delivered:
            # Rows still waiting for a platform: the run is not done, whatever the load.
            outcome = RunOutcome.FAILED
        if note:
            message = f"{message} | delivery: {note}" if message else f"delivery: {note}"
        self.ledger.finish(outcome.value, now, message or None)
        self._finished = True
        return outcome, message

    def _record_cutovers(self, conn: Connection, assessments: Mapping[str, Assessment]) -> None:
        """The silent backfill ends when a shop's first complete sync ends.

        The manifest says the sync ended (incomplete runs, however many, stay silent), and
        its window bound says up to when everything was read, so a resumed run that receives
        no new record records the cut-over too (issue 11 item 10).
        """
        cutover = self.config.get("automation_cutover")
        if cutover:
            at = datetime.fromisoformat(cutover).astimezone(UTC)
            configured = dict.fromkeys(self.ledger.locked | set(assessments), at)
            record_cutovers(conn, configured, "config", self.ledger.run_id, overwrite=True)
            return
        ended = (RunOutcome.SUCCEEDED, RunOutcome.UNRECONCILED)
        marks: dict[str, datetime] = {}
        for shop, assessment in assessments.items():
            if assessment.outcome not in ended:
                continue
            parts = load_manifest(conn, self.ledger.run_id, shop)
            mark = sync_end(parts, self._watermarks.get(shop))
            if mark is not None:
                marks[shop] = mark
        record_cutovers(conn, marks, "initial_sync", self.ledger.run_id)

    def refuse(self, error: BaseException) -> None:
        """Record the run as refused (another run holds a shop's lock), never `running`."""
        if not self._finished:
            self._finished = True
            self.ledger.finish(RunOutcome.REFUSED.value, self.now(), str(error))

    def run_stopped(self, signum: int) -> None:
        """singer-sdk drained (committing and emitting STATE) on a signal: record the end."""
        if not self._finished:
            self._finished = True
            self.ledger.finish(
                RunOutcome.INCOMPLETE.value, self.now(), f"stopped by signal {signum}"
            )

    def fail(self, error: BaseException) -> None:
        """Record the run as failed (once) and release its locks."""
        if not self._finished:
            self._finished = True
            self.ledger.finish(
                RunOutcome.FAILED.value, self.now(), f"{type(error).__name__}: {error}"
            )
            self.batch_log.summary(outcome=f"failed ({type(error).__name__})")
