"""Errors of target-crm, grouped by what the caller does about them."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError
from target_runtime.fields import RecordRejected


class RecordRejectedError(RecordRejected):
    """A record cannot be parsed: skippable, it goes to the quarantine table.

    Raised with the stream, the record key (``shop_domain/id``, or ``?`` where unreadable),
    the field at fault and the reason; the message reads
    ``orders record shop/1001: field 'id': ...``.
    """


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
