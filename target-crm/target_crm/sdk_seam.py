"""The one place target-crm touches private singer-sdk members (issue 16).

singer-sdk may rename or drop any ``_``-member in a minor release; that is why the target
pins ``singer-sdk<0.55``. Every such use lives here, each with what it does and why no
public hook serves, so an upgrade means reading one module. The STATE and signal handlers
go through target_runtime's own seam (``StateAfterCommit``: ``latest_state``,
``write_state_message``). ``tests/workspace/test_sdk_seams.py`` fails when another module
of the package overrides or calls a private singer-sdk member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.target_base import Target


class SeamSink(BatchSink):
    """The sinks' private singer-sdk members."""

    # Whether singer-sdk's key-property check runs before `process_record`.
    sdk_checks_key_properties: ClassVar[bool] = True

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # `Sink._validate_and_parse`: JSON Schema validation, then parsing every date-time
        # string into a datetime in place. The CRM parser reads times and money itself, and
        # the SDK's per-field datetime conversion is a large share of the per-record cost.
        # `get_validator()` can only turn the validation off, not the parsing (and
        # `preprocess_record` runs after it), so the validation alone runs here, when
        # `validate_records` is on (an invalid record raises, as it always did).
        if self._validator is not None:
            self._validator.validate(record)
        return record

    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        # `Sink._singer_validate_message`: raises MissingKeyPropertiesError for a record
        # missing a key property, which fails the run. The CRM sinks quarantine such a
        # record instead (their parser names the field); no public hook runs between
        # `preprocess_record` and this check to turn it off.
        if self.sdk_checks_key_properties:
            super()._singer_validate_message(record)


class SeamTarget(Target):
    """The target's private singer-sdk members."""

    @property
    def active_sinks(self) -> Mapping[str, Sink]:
        """The current sink of each stream, by stream name (`Target._sinks_active`).

        A batch's STATE may be printed only when no other sink holds records; singer-sdk
        lists its sinks under no public name (`sink_exists` and `get_sink` take one name).
        """
        return self._sinks_active
