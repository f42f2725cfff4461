"""RECORD lines written straight from the record dict, with the writer's own encoder.

singer-sdk builds a ``RecordMessage`` per record, checks it, turns it back into a dict and
encodes that. When the record reaches stdout unchanged (every property selected, no stream
map or flattening, no type conformance: the records are built to match their schemas, which
a test checks), the message dict can be encoded directly: the same bytes (the SDK's own
``serialize_jsonl``), without three objects and a dataclass check per record.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from singer_sdk.contrib.msgspec import serialize_jsonl

from tap_shopify_history.writer import FLUSH_EVERY, BufferedMsgSpecWriter

# The writer's own write_message: RECORD lines go straight to stdout only while nothing
# overrides or wraps it (a subclass counting messages, a test injecting a crash).
_BUFFERED_WRITE = BufferedMsgSpecWriter.write_message


class RecordLineWriter(BufferedMsgSpecWriter):
    """The tap's writer: buffered msgspec messages, and RECORD lines from the record dict."""

    @property
    def writes_records_directly(self) -> bool:
        """Whether :meth:`write_record` may stand in for ``write_message`` (not hooked)."""
        return type(self).write_message is _BUFFERED_WRITE

    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        version: int | None,
        time_extracted: datetime | None,
    ) -> None:
        """Write one RECORD line, byte for byte what ``write_message`` writes for it.

        Args:
            stream: The stream name.
            record: The record.
            version: The stream version (``ACTIVATE_VERSION``), or None.
            time_extracted: When the record was read, or None.
        """
        # The key order of singer-sdk's RecordMessage.to_dict().
        message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        if time_extracted is not None:
            message["time_extracted"] = time_extracted
        sys.stdout.buffer.write(serialize_jsonl(message))
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            sys.stdout.flush()
            self._pending = 0
