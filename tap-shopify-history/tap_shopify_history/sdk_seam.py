"""The one place the tap touches private singer-sdk members (issue 16).

singer-sdk may rename or drop any ``_``-member in a minor release; that is why the tap pins
``singer-sdk<0.55``. Every such use lives here, each with what it does and why no public
hook serves, so an upgrade means reading one module. Each private override here forwards to
a public-named method that the tap's streams override, whose default is the SDK's own step.
``tests/workspace/test_sdk_seams.py`` fails when another module of the package overrides or
calls a private singer-sdk member.
"""

from __future__ import annotations

from collections.abc import Generator
from types import FrameType
from typing import Any

import singer_sdk.singerlib as singer
from singer_sdk import Stream, Tap

# `conform_record_data_types`: the SDK's type conformance pass of one record, which the
# tap's fast record path runs exactly as the SDK's `_generate_record_messages` does.
# singer-sdk exports no public name for it (helpers._typing).
# `utc_now`: the SDK's clock for `time_extracted`, kept so the fast path stamps records
# with the same clock as the SDK's path (helpers._util, no public name).
# `flatten_key`: the SDK's ``parent__child`` column name of a nested key; the tap's
# flattening fix-up must name the columns exactly as the SDK's flattening does
# (helpers._flattening, no public name).
from singer_sdk.helpers._flattening import flatten_key
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.types import Context

__all__ = ["SeamStream", "SeamTap", "conform_record_data_types", "flatten_key", "utc_now"]


class SeamTap(Tap):
    """The tap's private singer-sdk members."""

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # `Tap._handle_termination`: the SIGTERM/SIGINT handler, which writes the state and
        # exits 0. No public hook runs on a signal, and the tap must exit 128 + signal so an
        # orchestrator does not record a stopped run as a success.
        self.handle_termination(signum, frame)

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK's signal handler: write the state, then exit 0.

        Args:
            signum: The signal number.
            frame: The interrupted frame.
        """
        super()._handle_termination(signum, frame)


class SeamStream(Stream):
    """The streams' private singer-sdk members."""

    @property
    def tap(self) -> Tap:
        """The tap this stream belongs to.

        `Stream._tap` is the only way to it: singer-sdk exposes no public attribute, and the
        streams share the tap's store session, manifest and webhook queue.
        """
        return self._tap

    @property
    def stream_version(self) -> int | None:
        """The version RECORD messages carry.

        `Stream._stream_version`: set by the SDK for FULL_TABLE streams; the fast record path
        writes it into each line exactly as the SDK's `RecordMessage` would. No public name.
        """
        return self._stream_version

    def write_state_message(self) -> None:
        """Write the stream's STATE now (`Stream._write_state_message`).

        A bulk job's id must reach the target's state before the tap waits on the job, so
        a crash resumes it; the SDK writes STATE only on its own schedule and has no public
        way to checkpoint mid-stream.
        """
        self._write_state_message()

    def write_activate_version_message(self, version: int) -> None:
        """Write an ACTIVATE_VERSION message now (`Stream._write_activate_version_message`).

        The roster's version is complete only after its last record and the count check,
        which run inside the stream's own read; the SDK writes the message only at the
        end of a FULL_TABLE sync, and no public name writes one.

        Args:
            version: The stream version to activate.
        """
        self._write_activate_version_message(version)

    def _write_record_message(self, record: dict[str, Any]) -> None:
        # `Stream._write_record_message`: writes one record's RECORD messages. The one
        # place a record can reach stdout without a RecordMessage round trip (the tap's
        # hot path); `post_process` runs before it and cannot write.
        self.write_record_message(record)

    def write_record_message(self, record: dict[str, Any]) -> None:
        """The SDK's step: build and write the record's RECORD messages.

        Args:
            record: The record, after `post_process`.
        """
        super()._write_record_message(record)

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        # `Stream._generate_record_messages`: builds one record's RECORD messages (selection
        # mask, conformance, stream maps). The tap skips the selection walk when nothing is
        # deselected and counts what it emitted; no public hook sees the messages.
        return self.generate_record_messages(record)

    def generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The SDK's step: the record's RECORD messages.

        Args:
            record: The record.

        Yields:
            One message per stream map that keeps the record.
        """
        yield from super()._generate_record_messages(record)

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        # `Stream._increment_stream_state`: moves the bookmark after each record. The
        # lookback re-reads records older than the bookmark, which the SDK would move back
        # (or call unsorted); no public hook decides how the bookmark moves.
        self.increment_stream_state(latest_record, context=context)

    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """The SDK's step: move the bookmark to the record's replication key.

        Args:
            latest_record: The record just written.
            context: Stream partition.
        """
        super()._increment_stream_state(latest_record, context=context)
