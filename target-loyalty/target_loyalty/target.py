"""TargetLoyalty: the singer-sdk target keeping a loyalty points ledger."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import Sink
from target_runtime.run_log import BatchLog
from target_runtime.singer_input import DeadLetter
from target_runtime.state_after_commit import StateAfterCommit

from target_loyalty import storage
from target_loyalty.books import Books
from target_loyalty.closing import close_run
from target_loyalty.domain.reconciliation import Check, CheckStatus, RunStatus
from target_loyalty.domain.roster import RosterVersion, roster_check
from target_loyalty.exceptions import (
    RejectedRecordsLimitError,
    RosterDeletionRefusedError,
    UnreconciledRunError,
)
from target_loyalty.outcome import run_manifest, store_dead_letter
from target_loyalty.reader import LoyaltyReader
from target_loyalty.records import parse_moment
from target_loyalty.runs import RunRegistry
from target_loyalty.sdk_seam import SeamTarget, remove_sdc_metadata, sink_context
from target_loyalty.settings import (
    CONFIG_SCHEMA,
    database_url_from_config,
    lock_lease_from_config,
    rules_from_config,
)
from target_loyalty.sinks import (
    UNKNOWN_SHOP,
    CustomerRosterSink,
    CustomersSink,
    IgnoredStreamSink,
    OrdersSink,
    PrivacyRequestsSink,
    SyncManifestSink,
)
from target_loyalty.typed_records import TYPED_STREAMS, ParsedRecord

SINKS: dict[str, type[Sink]] = {
    "customers": CustomersSink,
    "orders": OrdersSink,
    "customer_roster": CustomerRosterSink,
    "sync_manifest": SyncManifestSink,
    "privacy_requests": PrivacyRequestsSink,
}


def _outcome_words(outcomes: dict[str, str]) -> str:
    """How the run ended: one status, or each shop's when they differ."""
    if not outcomes:
        return "succeeded"
    if len(set(outcomes.values())) == 1:
        return next(iter(outcomes.values()))
    return ", ".join(f"{status} for {shop}" for shop, status in outcomes.items())


def _moment(value: Any, name: str) -> datetime | None:
    if value is None:
        return None

    def fail(reason: str) -> ValueError:
        return ValueError(f"setting {name}: {reason}")

    return parse_moment(value, fail)


class TargetLoyalty(StateAfterCommit, SeamTarget):
    """Keeps a loyalty program's books from the tap's customers, orders and roster."""

    name = "target-loyalty"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = IgnoredStreamSink
    message_reader_class = LoyaltyReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the books; locks are taken per shop when its first record arrives."""
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one database writer: batches must commit in order
        self.run_id = str(uuid.uuid4())
        self.started_at = datetime.now(UTC)
        self.clock = _moment(self.config.get("as_of"), "as_of") or self.started_at
        self.rules = rules_from_config(self.config)
        self.engine = storage.create_engine(database_url_from_config(self.config))
        self.registry = RunRegistry(self.engine, self.run_id, lock_lease_from_config(self.config))
        start = _moment(self.config.get("program_start_date"), "program_start_date")
        self.books = Books(self.engine, self.rules, self.registry, start)
        self.roster_version: int | None = None
        self._roster_versions: set[int] = set()
        self.roster_received: Counter[tuple[str, int]] = Counter()
        self._closed_rosters: set[int] = set()
        self.privacy_export_dir = Path(
            str(self.config.get("privacy_export_dir") or "output/privacy-exports")
        )
        self.max_roster_deletion_share = float(self.config.get("max_roster_deletion_share", 0.05))
        self._rejected = 0
        self._closed = False
        self._finished: set[str] = set()
        # One INFO line per committed batch and one at the end of the run.
        self.batch_log = BatchLog(self.logger, rejected_word="quarantined")
        # Lines that are not valid Singer messages go to loyalty_dead_letters, counted
        # toward max_rejected_records; the good lines around them are processed as usual.
        self.message_reader.on_dead_letter = self.record_dead_letter  # type: ignore[attr-defined]

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """The sink for one of the tap's streams; any other stream is counted, not booked."""
        return SINKS.get(stream_name, IgnoredStreamSink)

    def wall_clock(self) -> datetime:
        """Real time, for heartbeats and when rows were recorded."""
        return datetime.now(UTC)

    def ensure_shop(self, shop: str) -> None:
        """Take the shop's lock the first time it appears (fails at once if it is busy)."""
        self.registry.acquire(shop, self.wall_clock())

    def record_dead_letter(self, letter: DeadLetter) -> None:
        """Keep a line that is not a valid Singer message, in its own short transaction."""
        with self.engine.begin() as conn:
            store_dead_letter(conn, self.run_id, letter, self.wall_clock())
        self.logger.warning("Dead letter, input line %d: %s", letter.line_number, letter.reason)
        self.count_rejects(1)

    def count_rejects(self, count: int) -> None:
        """Fail the run once more records were quarantined than allowed."""
        self._rejected += count
        limit = int(self.config.get("max_rejected_records", 1000))
        if self._rejected > limit:
            msg = (
                f"{self._rejected} records quarantined in this run, more than "
                f"max_rejected_records={limit}; see the loyalty_quarantine and "
                "loyalty_dead_letters tables"
            )
            raise RejectedRecordsLimitError(msg)

    # Singer message handling -------------------------------------------------------

    def process_record_message(self, message_dict: dict[str, Any]) -> None:
        """Book a RECORD: typed records and plain ones skip the SDK's per-record steps.

        Args:
            message_dict: The RECORD message.
        """
        if message_dict.get("stream") == "customer_roster" and "version" in message_dict:
            version = message_dict["version"]
            if version != self.roster_version and self.roster_version is not None:
                self.drain_all()  # a batch never mixes two roster versions
            self.roster_version = version
            self._roster_versions.add(version)
        record = message_dict.get("record")
        if type(record) is ParsedRecord:
            # The reader decoded and parsed it already (typed_records): only the counting
            # and the batch remain.
            sink = self.get_sink(message_dict["stream"])
            sink.tally_record_read()
            sink.take_parsed(record, sink_context(sink, {}))
            self._counted(sink)
            return
        sink = self._plain_sink(message_dict)
        if sink is None:
            super().process_record_message(message_dict)
            return
        # singer-sdk's own steps, less the ones that do nothing here (copy, map, validate,
        # conform): about a third of the per-record cost of a large run.
        record = message_dict["record"]
        remove_sdc_metadata(sink, record)
        context = sink_context(sink, record)
        sink.tally_record_read()
        sink.process_record(record, context)
        self._counted(sink)

    def _counted(self, sink: Sink) -> None:
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.drain_one(sink)
        self.handle_max_record_age()

    def process_schema_message(self, message_dict: dict[str, Any]) -> None:
        """Create the stream's sink, then decide whether its records are decoded typed.

        Args:
            message_dict: The SCHEMA message.
        """
        super().process_schema_message(message_dict)
        # Decide once per SCHEMA, not per record, whether the reader may decode this
        # stream's records typed: only when nothing (map, flattening, metadata,
        # validation) would change the record before the parser reads it.
        stream = message_dict["stream"]
        typed: set[str] = self.message_reader.typed_streams  # type: ignore[attr-defined]
        if stream in TYPED_STREAMS and self._plain_sink({"stream": stream, "record": {}}):
            typed.add(stream)
        else:
            typed.discard(stream)

    def _plain_sink(self, message_dict: dict[str, Any]) -> Sink | None:
        """The sink of a record that no stream map, flattening or validation changes."""
        stream, record = message_dict.get("stream"), message_dict.get("record")
        if stream not in SINKS or not isinstance(record, dict):
            return None
        maps = self.mapper.stream_maps.get(stream)
        if not maps or len(maps) != 1:
            return None
        only = maps[0]
        if type(only) is not SameRecordTransform or only.flattening_enabled:
            return None
        if only.stream_alias != stream:
            return None
        sink = self.get_sink(stream, record=record)
        plain = not sink.include_sdc_metadata_properties and not self.config.get(
            "validate_records", False
        )
        return sink if plain else None

    # STATE (StateAfterCommit): a new STATE drains every sink, so everything received before
    # it is committed before it is printed and a crash replays at most what came after the
    # last printed STATE; a state already printed is not printed again.

    def process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        """Close a roster version once its records were received.

        Args:
            message_dict: The ACTIVATE_VERSION message.
        """
        # The tap sends ACTIVATE_VERSION before the roster's records and again after
        # them; only the one that follows records of its version closes a roster.
        if message_dict.get("stream") != "customer_roster":
            return
        version = message_dict["version"]
        if version not in self._roster_versions:
            self.roster_version = version
            return
        self.drain_all()
        self.activate_roster(version)

    def activate_roster(self, version: int) -> None:
        """A roster version ended: its deletions wait for the manifest that follows it."""
        self._closed_rosters.add(version)

    def _apply_roster(self, shop: str) -> tuple[list[Check], str | None]:
        """Apply the shop's newest closed roster version if its manifest says complete.

        Returns:
            The roster's check (none when no roster closed) and the guard's refusal.
        """
        versions = [v for (s, v) in self.roster_received if s == shop and v in self._closed_rosters]
        if not versions or shop == UNKNOWN_SHOP:
            return [], None
        version = max(versions)
        with self.engine.connect() as conn:
            parts = [
                p for p in run_manifest(conn, self.run_id, shop) if p.stream == "customer_roster"
            ]
        roster = RosterVersion(
            version=version,
            received=self.roster_received[shop, version],
            manifest=parts[0] if len(parts) == 1 else None,
            last_applied=self.books.last_roster_version(shop),
        )
        check = roster_check(roster)
        if check.status is not CheckStatus.OK:
            self.logger.warning("Roster of %s: %s", shop, check.detail)
            return [check], None
        try:
            deleted, merged = self.books.activate_roster(
                shop, version, self.clock, self.max_roster_deletion_share
            )
        except RosterDeletionRefusedError as refused:
            self.logger.error("%s", refused)
            return [Check(check.stream, "roster_deletions", CheckStatus.FAIL, str(refused))], str(
                refused
            )
        self.logger.info(
            "Roster %s of %s: %d customers soft-deleted, %d merged away",
            version,
            shop,
            deleted,
            merged,
        )
        return [check], None

    def listen(self, file_input: Any = None) -> None:  # type: ignore[misc]
        """Read all input; on failure, mark this run's shops failed and release them."""
        try:
            super().listen(file_input)
        except BaseException as error:
            self._fail(error)
            raise

    def run_stopped(self, signum: int) -> None:
        """singer-sdk drained (commits and emits STATE) on a signal: record why the run
        ended and release the shop instead of leaving the next run to find a dead holder."""
        self._fail(InterruptedError(f"stopped by signal {signum} after committing its batches"))

    def _fail(self, error: BaseException) -> None:
        if self._closed:
            return
        self._closed = True
        reason = f"{type(error).__name__}: {error}"[:2000]
        self.batch_log.summary(outcome=f"failed ({reason[:300]})")
        for shop in sorted(set(self.registry.shops) - self._finished):
            with self.engine.begin() as conn:
                self.registry.finish(conn, shop, "failed", self.wall_clock(), error=reason)
        self.registry.release_sessions()

    def process_endofpipe(self) -> None:
        """Drain, then close each shop's run: tiers, cashback, expiry, purge, outcome.

        Raises:
            UnreconciledRunError: After everything is committed, when a shop's manifest
                does not reconcile (naming the check, stream and numbers).
        """
        super().process_endofpipe()
        problems: list[str] = []
        refusals: list[str] = []
        outcomes: dict[str, str] = {}
        try:
            for shop in sorted(self.registry.shops):
                roster_checks, refusal = self._apply_roster(shop)
                status, checks = self._close_shop(shop, roster_checks, refusal)
                outcomes[shop] = status.value
                self._finished.add(shop)
                if refusal is not None:
                    refusals.append(refusal)
                elif status is RunStatus.UNRECONCILED:
                    failed = "; ".join(str(c) for c in checks if c.status is CheckStatus.FAIL)
                    problems.append(f"run of {shop} is unreconciled: {failed}")
                elif status is RunStatus.INCOMPLETE:
                    self.logger.warning(
                        "Run of %s is incomplete: the input carried no sync_manifest "
                        "for every stream it received (the tap did not finish)",
                        shop,
                    )
            self._closed = True
        finally:
            self.registry.release_sessions()
        self.batch_log.summary(outcome=_outcome_words(outcomes))
        if refusals:
            raise RosterDeletionRefusedError(" | ".join(refusals))
        if problems:
            raise UnreconciledRunError(" | ".join(problems))

    def _close_shop(
        self, shop: str, roster_checks: list[Check], refusal: str | None
    ) -> tuple[RunStatus, list[Check]]:
        with self.engine.begin() as conn:
            status, checks, done = close_run(
                conn,
                shop,
                self.rules,
                self.registry,
                now=self.clock,
                finished_at=self.wall_clock(),
                extra_checks=roster_checks,
                error=refusal,
            )
        self.logger.info(
            "Closed %s: recomputed %s customers of %s (%s), cashback issued %s",
            status.value,
            f"{done.customers:,}",
            shop,
            f"full: {done.scope.reason}" if done.scope.full else "incremental",
            done.cashback,
        )
        return status, checks
