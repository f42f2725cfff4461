"""Errors, grouped by what the caller does about them."""

from __future__ import annotations

from target_runtime.fields import RecordRejected


class RecordError(RecordRejected):
    """Skippable: one record cannot be parsed; it is quarantined and the run goes on.

    Raised with the stream, the record's id, the offending field (a dotted path) and the
    reason; the message reads ``orders 1001: total_price_set.shop_money.amount: ...``.
    """

    message_format = "{stream} {key}: {field}: {reason}"


class FatalSyncError(RuntimeError):
    """Fatal: the run stops; nothing after the last committed batch is applied."""


class SyncAlreadyRunningError(FatalSyncError):
    """Fatal: another sync holds this shop in this database."""


class RejectedRecordsLimitError(FatalSyncError):
    """Fatal: more records were quarantined than ``max_rejected_records`` allows."""


class UnreconciledRunError(FatalSyncError):
    """Fatal, after committing: the tap's manifest does not reconcile with what arrived."""


class RosterDeletionRefusedError(FatalSyncError):
    """Fatal: a roster would delete more than ``max_roster_deletion_share`` of live accounts."""


class InvalidRulesError(ValueError):
    """Fatal: the loyalty rules in the config are inconsistent."""


class InvalidConfigError(ValueError):
    """Fatal, at start: a setting is present but unusable (an empty ``database_url``)."""
