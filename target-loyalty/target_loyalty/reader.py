"""The target's input reader: typed decoding of the hot streams, the resilient reader else.

A RECORD line of a stream in ``typed_streams`` (``orders``, ``customers``,
``customer_roster``, when the target
applies no stream map, flattening, metadata or JSON Schema validation to it) is decoded by
:func:`~target_loyalty.typed_records.decode_line` straight into the parsed record, and
handed on as a message whose ``record`` is a :class:`ParsedRecord`. Every other line, and
every record the fast path does not accept, takes the resilient reader's generic path
unchanged: dead letters and quarantine are decided exactly as before.
"""

from __future__ import annotations

import typing as t

from target_runtime.singer_input import ResilientSingerReader, nesting_exceeds

from target_loyalty.typed_records import decode_line


class LoyaltyReader(ResilientSingerReader):
    """The resilient reader, with typed decoding of plain records of typed streams."""

    def __init__(self) -> None:
        """Start with no typed stream: the target names them as their SCHEMA arrives."""
        super().__init__()
        self.typed_streams: set[str] = set()

    def parse_line(self, raw: bytes) -> dict[str, t.Any] | None:
        if self.typed_streams:
            decoded = decode_line(raw)
            if decoded is not None:
                stream, parsed, version = decoded
                # The generic path's checks that typing does not cover: the stream's
                # SCHEMA came first, and the line nests no deeper than allowed.
                if (
                    stream in self.typed_streams
                    and self.has_schema(stream)
                    and not nesting_exceeds(raw)
                ):
                    message = {"type": "RECORD", "stream": stream, "record": parsed}
                    if version is not None:
                        message["version"] = version
                    return message
        return super().parse_line(raw)
