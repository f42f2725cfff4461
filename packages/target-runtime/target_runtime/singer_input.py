"""A Singer input reader that dead-letters bad lines instead of stopping the run.

singer-sdk's readers raise on the first line they cannot use, so one malformed line in the
middle of a sync loses every good record after it. :class:`ResilientSingerReader` checks each
line's shape before the target sees it and hands each line it cannot use to the target's
``on_dead_letter`` callback as a :class:`DeadLetter`; the lines around it are processed as
usual. Exceptions raised by the target's own callbacks are not caught: those are the target's
errors, not bad input.
"""

from __future__ import annotations

import re
import typing as t
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_runtime.sdk_seam import SeamReaderMixin

__all__ = ["MAX_NESTING", "MAX_RAW_CHARS", "DeadLetter", "ResilientSingerReader"]

#: Longest raw line kept in a dead letter; longer lines are cut and marked truncated.
MAX_RAW_CHARS = 65_536
#: Deepest nesting of arrays and objects accepted in one line.
MAX_NESTING = 100

_MESSAGE_TYPES = frozenset({"RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH"})
# A JSON string, unrolled so it runs in the regex engine without backtracking per character.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


@dataclass(frozen=True)
class DeadLetter:
    """One input line that is not a valid Singer message.

    Attributes:
        line_number: 1-based line number in the target's input.
        raw: The raw line (invalid UTF-8 replaced), capped at ``MAX_RAW_CHARS``.
        truncated: Whether ``raw`` was cut.
        reason: Why the line is not a valid Singer message.
    """

    line_number: int
    raw: str
    truncated: bool
    reason: str


def _dead_letter(line_number: int, raw: bytes, reason: str) -> DeadLetter:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return DeadLetter(
        line_number=line_number,
        raw=text[:MAX_RAW_CHARS],
        truncated=len(text) > MAX_RAW_CHARS,
        reason=reason,
    )


def nesting_exceeds(raw: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether the (valid JSON) line nests arrays/objects deeper than ``limit``."""
    # Fewer opening brackets than the limit cannot nest deeper: the common case stops here.
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    shape = _JSON_STRING.sub(b"", raw).translate(_TO_PARENS, delete=_NOT_BRACKETS)
    # Each pass removes the innermost pairs, so a line nested d deep empties after d passes.
    for _ in range(limit):
        if not shape:
            return False
        shape = shape.replace(b"()", b"")
    return bool(shape)


def _decode(raw: bytes) -> tuple[dict[str, t.Any], str | None]:
    """The decoded object, or why the line is not a JSON object."""
    try:
        message = decoder.decode(raw)
    except RecursionError:
        return {}, f"nesting deeper than {MAX_NESTING} levels"
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return {}, f"not valid JSON: {exc}"
    if type(message) is not dict:
        return {}, f"not a JSON object (got {_json_type(message)})"
    return message, None


def _is_str_list(value: object) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _state_problem(message: dict[str, t.Any]) -> str | None:
    value = message.get("value")
    if type(value) is not dict:
        return f"STATE value is not an object (got {_json_type(value)})"
    if "bookmarks" in value:
        bookmarks = value["bookmarks"]
        if type(bookmarks) is not dict:
            return f"STATE bookmarks is not an object (got {_json_type(bookmarks)})"
        for stream, bookmark in bookmarks.items():
            if type(bookmark) is not dict:
                return (
                    f"STATE bookmark for stream {stream!r} is not an object "
                    f"(got {_json_type(bookmark)})"
                )
    return None


def _record_shape(message: dict[str, t.Any], record: object) -> str:
    if "record" not in message:
        return "no record"
    if record is None:
        return "record is null"
    return f"record is not an object (got {_json_type(record)})"


def _batch_problem(message: dict[str, t.Any], stream: str) -> str | None:
    if type(message.get("encoding")) is not dict:
        return f"BATCH for stream {stream!r}: encoding is not an object"
    if not _is_str_list(message.get("manifest")):
        return f"BATCH for stream {stream!r}: manifest is not an array of strings"
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


class ResilientSingerReader(SeamReaderMixin, MsgSpecReader):
    """msgspec-based reader that dead-letters every line it cannot turn into a message.

    Set ``message_reader_class = ResilientSingerReader`` on the target and, in its
    ``__init__``, ``self.message_reader.on_dead_letter = self.record_dead_letter``. With no
    callback set, a bad line raises singer-sdk's ``InvalidInputLine`` as the stock reader does.
    """

    on_dead_letter: Callable[[DeadLetter], None] | None = None

    def __init__(self) -> None:
        """Initialise the reader with no stream seen yet."""
        super().__init__()
        self.line_number = 0
        self.dead_letter_count = 0
        self._streams_with_schema: set[str] = set()

    def process_lines(
        self,
        file_input: t.IO[str] | t.IO[bytes] | Iterable[str | bytes] | None,
        callbacks: dict[str, Callable[[dict[str, t.Any]], None]],
    ) -> Counter[str]:
        """Validate each input line and pass the good ones to the target's callbacks.

        Args:
            file_input: Readable stream of messages, one per line; its binary buffer is
                read when it has one, so invalid UTF-8 costs one line, not the run.
            callbacks: Message type to the target's handler.

        Returns:
            How many messages of each type were passed on.
        """
        handlers = {str(getattr(k, "value", k)): v for k, v in callbacks.items()}
        stats: dict[str, int] = defaultdict(int)
        filein = file_input or self.default_input
        for line in getattr(filein, "buffer", filein):
            self.line_number += 1
            raw: bytes = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
            message = self.parse_line(raw)
            if message is None:
                continue
            kind: str = message["type"]
            handler = handlers.get(kind)
            if handler is None:
                self._reject(raw, f"message type {kind!r} is not supported by this target")
                continue
            self.set_current_message(raw)
            handler(message)
            stats[kind] += 1
        return Counter(stats)

    def has_schema(self, stream: str) -> bool:
        """Whether the stream's SCHEMA message has been read (a RECORD needs it first)."""
        return stream in self._streams_with_schema

    def parse_line(self, raw: bytes) -> dict[str, t.Any] | None:
        """The line's message when it is valid, else None after dead-lettering it.

        A subclass may decode some lines its own way (a typed fast path) and hand the rest
        to this method.
        """
        message, problem = _decode(raw)
        if problem is None:
            problem = self._problem(message)
        if problem is None and nesting_exceeds(raw):
            problem = f"nesting deeper than {MAX_NESTING} levels"
        if problem is not None:
            self._reject(raw, problem)
            return None
        return message

    def _problem(self, message: dict[str, t.Any]) -> str | None:
        """Why the decoded object is not a usable Singer message, or None."""
        kind = message.get("type")
        if kind == "RECORD":  # the hot path: a few dict lookups
            return self._record_problem(message)
        if kind is None:
            return "message has no type"
        if type(kind) is not str or kind not in _MESSAGE_TYPES:
            return f"unknown message type {kind!r}"
        if kind == "STATE":
            return _state_problem(message)
        if kind == "SCHEMA":
            return self._schema_problem(message)
        return self._stream_message_problem(kind, message)

    def _record_problem(self, message: dict[str, t.Any]) -> str | None:
        stream = message.get("stream")
        if type(stream) is not str:
            return f"RECORD stream is not a string (got {_json_type(stream)})"
        if stream not in self._streams_with_schema:
            return f"RECORD for stream {stream!r} before its SCHEMA"
        record = message.get("record")
        if type(record) is not dict:
            return f"RECORD for stream {stream!r}: {_record_shape(message, record)}"
        if "time_extracted" in message and type(message["time_extracted"]) is not str:
            return f"RECORD for stream {stream!r}: time_extracted is not a string"
        return self._version_problem(message, stream)

    def _schema_problem(self, message: dict[str, t.Any]) -> str | None:
        stream = message.get("stream")
        if type(stream) is not str or not stream:
            return f"SCHEMA stream is not a non-empty string (got {_json_type(stream)})"
        schema = message.get("schema")
        if type(schema) is not dict:
            return f"SCHEMA for stream {stream!r}: schema is not an object"
        if type(schema.get("properties")) is not dict:
            return f"SCHEMA for stream {stream!r}: schema.properties is not an object"
        for key in ("key_properties", "bookmark_properties"):
            value = message.get(key)
            if value is not None and not _is_str_list(value):
                return f"SCHEMA for stream {stream!r}: {key} is not an array of strings"
        self._streams_with_schema.add(stream)
        return None

    def _stream_message_problem(self, kind: str, message: dict[str, t.Any]) -> str | None:
        stream = message.get("stream")
        if type(stream) is not str:
            return f"{kind} stream is not a string (got {_json_type(stream)})"
        if stream not in self._streams_with_schema:
            return f"{kind} for stream {stream!r} before its SCHEMA"
        if kind == "ACTIVATE_VERSION":
            if "version" not in message:
                return f"ACTIVATE_VERSION for stream {stream!r} has no version"
            return self._version_problem(message, stream)
        return _batch_problem(message, stream)

    @staticmethod
    def _version_problem(message: dict[str, t.Any], stream: str) -> str | None:
        if "version" in message and type(message["version"]) is not int:
            kind = message["type"]
            return f"{kind} for stream {stream!r}: version is not an integer"
        return None

    def _reject(self, raw: bytes, reason: str) -> None:
        """Hand the line to ``on_dead_letter``, or raise as singer-sdk does without one."""
        letter = _dead_letter(self.line_number, raw, reason)
        if self.on_dead_letter is None:
            msg = f"line {letter.line_number}: {reason}: {letter.raw[:200]}"
            raise InvalidInputLine(msg)
        self.dead_letter_count += 1
        self.on_dead_letter(letter)
