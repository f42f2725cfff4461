"""Errors, grouped by what the caller does about them."""

from __future__ import annotations


class RecordError(ValueError):
    """Skippable: one record cannot be parsed; it is quarantined and the run goes on."""

    def __init__(self, stream: str, key: str, field: str, reason: str) -> None:
        """Name the record and the field at fault.

        Args:
            stream: The Singer stream.
            key: The record's id within its shop.
            field: The offending field (dotted path).
            reason: What is wrong with it.
        """
        super().__init__(f"{stream} {key}: {field}: {reason}")
        self.stream, self.key, self.field, self.reason = stream, key, field, reason


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
