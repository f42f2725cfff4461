"""The one place target-loyalty touches private singer-sdk members (issue 16).

singer-sdk may rename or drop any ``_``-member in a minor release; that is why the target
pins ``singer-sdk<0.55``. Every such use lives here, each with what it does and why no
public hook serves, so an upgrade means reading one module. Each private override forwards
to a public-named method that the target overrides, whose default is the SDK's own step.
``tests/workspace/test_sdk_seams.py`` fails when another module of the package overrides or
calls a private singer-sdk member.
"""

from __future__ import annotations

from typing import Any, ClassVar

from singer_sdk import Target
from singer_sdk.sinks import BatchSink, Sink


class SeamSink(BatchSink):
    """The sinks' private singer-sdk members."""

    # Whether singer-sdk's key-property check runs before `process_record`.
    sdk_checks_key_properties: ClassVar[bool] = True

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # `Sink._validate_and_parse`: JSON Schema validation, then parsing every date-time
        # string into a datetime in place. `get_validator()` returns None already when
        # `validate_records` is off, but the timestamp parsing would still run, and it
        # changes behaviour: a malformed timestamp fails the run (datetime_error_treatment
        # ERROR) where the parser quarantines the record; a quarantined record would be
        # stored with datetimes instead of as it arrived; every record pays the walk. No
        # public hook turns the parsing off (`preprocess_record` runs after it), so it is
        # skipped here unless validation is on (then the SDK's step runs unchanged).
        if self.validate_schema:
            return super()._validate_and_parse(record)
        return record

    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        # `Sink._singer_validate_message`: raises MissingKeyPropertiesError for a record
        # missing a key property, which fails the run. The loyalty sinks quarantine such a
        # record instead (their parser names the field); no public hook runs between
        # `preprocess_record` and this check to turn it off.
        if self.sdk_checks_key_properties:
            super()._singer_validate_message(record)


def sink_context(sink: Sink, record: dict[str, Any]) -> dict[str, Any]:
    """The batch context a record joins (`Sink._get_context`).

    The target's fast record path feeds sinks itself, skipping the SDK's per-record copy,
    map and validation; the SDK's record handling is not split into public steps.
    """
    return sink._get_context(record)


def remove_sdc_metadata(sink: Sink, record: dict[str, Any]) -> None:
    """Drop the ``_sdc_*`` metadata fields (`Sink._remove_sdc_metadata_from_record`).

    The SDK's own step on every record, repeated by the target's fast record path.
    """
    sink._remove_sdc_metadata_from_record(record)


class SeamTarget(Target):
    """The target's private singer-sdk members."""

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        # `Target._process_record_message`: the RECORD handler. The target orders roster
        # versions, takes records the reader already parsed, and feeds plain records to
        # the sink without the SDK's copy/map/validate steps; singer-sdk offers no public
        # per-message hook on a target.
        self.process_record_message(message_dict)

    def process_record_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's RECORD handling: map, validate and hand the record to its sink.

        Args:
            message_dict: The RECORD message.
        """
        super()._process_record_message(message_dict)

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        # `Target._process_schema_message`: the SCHEMA handler. The target decides per
        # SCHEMA whether the reader may decode the stream's records typed; no public hook
        # runs when a SCHEMA arrives.
        self.process_schema_message(message_dict)

    def process_schema_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's SCHEMA handling: (re)create the stream's sink.

        Args:
            message_dict: The SCHEMA message.
        """
        super()._process_schema_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        # `Target._process_activate_version_message`: the ACTIVATE_VERSION handler. The
        # SDK drains and calls the sink's `activate_version` on every one; the roster is
        # closed only by the one after its records, which needs the message, not the sink.
        self.process_activate_version_message(message_dict)

    def process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's ACTIVATE_VERSION handling: drain, then activate the sink's version.

        Args:
            message_dict: The ACTIVATE_VERSION message.
        """
        super()._process_activate_version_message(message_dict)

    def handle_max_record_age(self) -> None:
        """Drain every sink once its oldest record is too old (`Target._handle_max_record_age`).

        The SDK runs it after each record it handles; the target's fast record path must
        run it too, and no public name does.
        """
        self._handle_max_record_age()
