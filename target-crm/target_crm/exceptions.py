"""Errors of target-crm, grouped by what the caller does about them."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError


class RecordRejectedError(ValueError):
    """A record cannot be parsed: skippable, it goes to the quarantine table."""

    def __init__(self, stream: str, key: str, field: str, reason: str) -> None:
        """Name the record and the field at fault.

        Args:
            stream: The stream.
            key: The record key (``shop_domain/id``), or ``?`` when it is unreadable.
            field: The field at fault.
            reason: What is wrong with it.
        """
        super().__init__(f"{stream} record {key}: field '{field}': {reason}")
        self.stream = stream
        self.key = key
        self.field = field
        self.reason = reason


class TooManyRejectedRecordsError(RuntimeError):
    """Fatal: more records were quarantined than ``max_rejected_records`` allows."""


class RunUnreconciledError(RuntimeError):
    """Fatal, after committing: the run's manifest does not reconcile (names the check)."""


class RosterDeletionGuardError(RuntimeError):
    """Fatal: a roster would delete more of a shop's contacts than the setting allows."""


class DeliveryIncompleteError(RuntimeError):
    """Fatal, after committing: rows are still waiting for a destination (named)."""


class SyncAlreadyRunningError(RuntimeError):
    """Fatal: another sync for the same shop and store is running."""


class CrmConfigError(ConfigValidationError):
    """Fatal: a setting has a value the target cannot use."""
