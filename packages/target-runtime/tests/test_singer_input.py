"""ResilientSingerReader: every line is a message for the target or a dead letter."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib.exceptions import InvalidInputLine
from target_runtime.singer_input import MAX_RAW_CHARS, DeadLetter, ResilientSingerReader

SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "schema": {"properties": {"id": {"type": "integer"}}},
    "key_properties": ["id"],
}
ROSTER_SCHEMA = {**SCHEMA, "stream": "customer_roster"}


def record(record_id: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "orders", "record": {"id": record_id}}


class Collector:
    """Callbacks that remember every message the target would have seen, in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.letters: list[DeadLetter] = []

    def callbacks(self) -> dict[str, Any]:
        kinds = ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH")
        return dict.fromkeys(kinds, self.messages.append)


def read(payload: bytes | str, *, dead_letters: bool = True) -> Collector:
    collector = Collector()
    reader = ResilientSingerReader()
    if dead_letters:
        reader.on_dead_letter = collector.letters.append
    data = payload.encode() if isinstance(payload, str) else payload
    reader.process_lines(
        io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"), collector.callbacks()
    )
    return collector


def lines(*items: dict[str, Any] | bytes) -> bytes:
    return b"".join((i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n" for i in items)


BAD_LINES = [
    (b'{"type": "RECORD", "stream": "orders", "record": {"id": 1}', "not valid JSON"),
    (b"hello, I am not JSON", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2, 3]", "not a JSON object (got array)"),
    (b'"RECORD"', "not a JSON object (got string)"),
    (b"null", "not a JSON object (got null)"),
    (b'{"stream": "orders", "record": {"id": 1}}', "message has no type"),
    (b'{"type": "RECORDS", "stream": "orders"}', "unknown message type 'RECORDS'"),
    (b'{"type": 7}', "unknown message type 7"),
    (b'{"type": "RECORD", "stream": "refunds", "record": {}}', "'refunds' before its SCHEMA"),
    (b'{"type": "RECORD", "record": {"id": 1}}', "RECORD stream is not a string (got null)"),
    (b'{"type": "RECORD", "stream": 5, "record": {}}', "RECORD stream is not a string"),
    (b'{"type": "RECORD", "stream": "orders"}', "'orders': no record"),
    (b'{"type": "RECORD", "stream": "orders", "record": null}', "'orders': record is null"),
    (
        b'{"type": "RECORD", "stream": "orders", "record": [1]}',
        "record is not an object (got array)",
    ),
    (b'{"type": "RECORD", "stream": "orders", "record": "x"}', "not an object (got string)"),
    (b'{"type": "RECORD", "stream": "orders", "record": {}, "version": "1"}', "version is not an"),
    (b'{"type": "RECORD", "stream": "orders", "record": {}, "version": true}', "version is not an"),
    (
        b'{"type": "RECORD", "stream": "orders", "record": {}, "time_extracted": 1}',
        "time_extracted",
    ),
    (
        b'{"type": "RECORD", "stream": "orders", "record": {"id": 1, "x": "\xff\xfe"}}',
        "not valid JSON",
    ),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b'{"type": "RECORD", "stream": "orders", "record": {"id": NaN}}', "not valid JSON"),
    (b'{"type": "RECORD", "stream": "orders", "record": {"id": Infinity}}', "not valid JSON"),
    (b'{"type": "RECORD", "stream": "orders", "record": {"id": -Infinity}}', "not valid JSON"),
    (
        b'{"type": "RECORD", "stream": "orders", "record": {"x": ' + b"[" * 99 + b"]" * 99 + b"}}",
        "nesting deeper than 100 levels",
    ),
    (b"[" * 100_000 + b"]" * 100_000, "nesting deeper than 100 levels"),
    (b"[" * 100_000, "nesting deeper than 100 levels"),
    (b'{"type": "STATE"}', "STATE value is not an object (got null)"),
    (b'{"type": "STATE", "value": "bookmarks"}', "STATE value is not an object (got string)"),
    (b'{"type": "STATE", "value": {"bookmarks": []}}', "STATE bookmarks is not an object"),
    (b'{"type": "STATE", "value": {"bookmarks": {"orders": 5}}}', "bookmark for stream 'orders'"),
    (b'{"type": "SCHEMA", "stream": "x"}', "SCHEMA for stream 'x': schema is not an object"),
    (b'{"type": "SCHEMA", "stream": "x", "schema": {}}', "schema.properties is not an object"),
    (b'{"type": "SCHEMA", "schema": {"properties": {}}}', "SCHEMA stream is not a non-empty"),
    (
        b'{"type": "SCHEMA", "stream": "x", "schema": {"properties": {}}, "key_properties": "id"}',
        "key_properties is not an array of strings",
    ),
    (b'{"type": "ACTIVATE_VERSION", "stream": "orders"}', "has no version"),
    (b'{"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1.5}', "version is not an"),
    (b'{"type": "ACTIVATE_VERSION", "stream": "nope", "version": 1}', "'nope' before its SCHEMA"),
    (b'{"type": "BATCH", "stream": "orders", "encoding": 1}', "encoding is not an object"),
]
BAD_IDS = [
    "truncated-json",
    "plain-text",
    "empty-line",
    "json-array",
    "json-string",
    "json-null",
    "no-type",
    "unknown-type",
    "type-not-a-string",
    "record-before-schema",
    "record-without-stream",
    "record-stream-not-a-string",
    "record-missing",
    "record-null",
    "record-array",
    "record-string",
    "version-a-string",
    "version-a-boolean",
    "time-extracted-a-number",
    "invalid-utf8-in-a-string",
    "invalid-utf8-line",
    "nan-literal",
    "infinity-literal",
    "minus-infinity-literal",
    "nesting-101",
    "nesting-100000",
    "unclosed-nesting-100000",
    "state-without-value",
    "state-value-a-string",
    "state-bookmarks-a-list",
    "state-bookmark-not-an-object",
    "schema-without-schema",
    "schema-without-properties",
    "schema-without-stream",
    "schema-key-properties-a-string",
    "activate-version-without-version",
    "activate-version-float",
    "activate-version-before-schema",
    "batch-bad-encoding",
]


@pytest.mark.parametrize(("bad_line", "reason"), BAD_LINES, ids=BAD_IDS)
def test_a_bad_line_is_dead_lettered_and_the_lines_around_it_are_processed(
    bad_line: bytes, reason: str
) -> None:
    collector = read(lines(SCHEMA, record(1), bad_line, record(2)))
    assert collector.messages == [SCHEMA, record(1), record(2)]
    assert [(letter.line_number, reason in letter.reason) for letter in collector.letters] == [
        (3, True)
    ], collector.letters[0].reason


@pytest.mark.parametrize(
    "good_line",
    [
        {"type": "STATE", "value": {}},
        {"type": "STATE", "value": {"bookmarks": {"orders": {"replication_key_value": "x"}}}},
        {"type": "STATE", "value": {"roster_version": 3}},
        {"type": "ACTIVATE_VERSION", "stream": "orders", "version": 3},
        {**record(9), "version": 3, "time_extracted": "2026-01-01T00:00:00Z"},
        {"type": "RECORD", "stream": "orders", "record": {"x": json.loads("[" * 98 + "]" * 98)}},
        {"type": "RECORD", "stream": "orders", "record": {"note": "[[[[" * 100}},
        {"type": "RECORD", "stream": "orders", "record": {"id": 2**70, "amount": 1e30}},
        {**SCHEMA, "key_properties": None},
    ],
    ids=[
        "empty-state",
        "state-with-bookmarks",
        "state-without-bookmarks",
        "activate-version",
        "record-with-version-and-time",
        "nesting-100",
        "brackets-inside-a-string",
        "big-numbers-are-for-the-target-to-judge",
        "schema-with-null-key-properties",
    ],
)
def test_a_valid_message_is_passed_on_unchanged(good_line: dict[str, Any]) -> None:
    collector = read(lines(SCHEMA, good_line))
    assert collector.letters == []
    assert len(collector.messages) == 2
    # JSON numbers with a fraction or exponent arrive as Decimal, as singer-sdk's reader does.
    assert collector.messages[1] == json.loads(json.dumps(good_line), parse_float=Decimal)


def test_a_dead_letter_keeps_the_raw_line_capped_with_invalid_utf8_replaced() -> None:
    long_line = b"\xff" + b"x" * (MAX_RAW_CHARS + 10)
    collector = read(lines(b'{"type": "RECORD" \xff', long_line))
    short, cut = collector.letters
    assert (short.raw, short.truncated, short.line_number) == ('{"type": "RECORD" \ufffd', False, 1)
    assert (len(cut.raw), cut.raw[:3], cut.truncated, cut.line_number) == (
        MAX_RAW_CHARS,
        "\ufffdxx",
        True,
        2,
    )


def test_without_a_dead_letter_callback_a_bad_line_raises_as_singer_sdk_does() -> None:
    with pytest.raises(InvalidInputLine, match="line 2: not valid JSON"):
        read(lines(SCHEMA, b"{oops"), dead_letters=False)


def test_errors_raised_by_the_target_callbacks_propagate() -> None:
    reader = ResilientSingerReader()
    reader.on_dead_letter = lambda letter: None

    def explode(message: dict[str, Any]) -> None:
        raise ZeroDivisionError(message["type"])

    with pytest.raises(ZeroDivisionError, match="SCHEMA"):
        reader.process_lines(io.StringIO(lines(SCHEMA).decode()), {"SCHEMA": explode})


def test_a_text_stream_without_a_binary_buffer_is_read_too() -> None:
    collector = Collector()
    reader = ResilientSingerReader()
    reader.on_dead_letter = collector.letters.append
    counts = reader.process_lines(
        io.StringIO(lines(SCHEMA, b"nope", record(1)).decode()), collector.callbacks()
    )
    assert collector.messages == [SCHEMA, record(1)]
    assert [letter.line_number for letter in collector.letters] == [2]
    assert (dict(counts), reader.dead_letter_count) == ({"SCHEMA": 1, "RECORD": 1}, 1)


GOOD = st.one_of(
    st.integers(1, 10**6).map(record),
    st.just({"type": "STATE", "value": {"bookmarks": {"orders": {"v": 1}}}}),
    st.just({"type": "ACTIVATE_VERSION", "stream": "orders", "version": 2}),
    st.just(ROSTER_SCHEMA),
)
GARBAGE = st.one_of(
    st.sampled_from([line for line, _ in BAD_LINES if len(line) < 1_000]),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"{" not in b),
    st.text(max_size=40).map(str.encode).filter(lambda b: b"\n" not in b and b"{" not in b),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(GOOD.map(lambda m: ("good", m)), GARBAGE.map(lambda g: ("bad", g)))))
def test_any_interleaving_delivers_exactly_the_good_messages_in_order(
    items: list[tuple[str, Any]],
) -> None:
    collector = read(lines(SCHEMA, *(item for _, item in items)))
    assert collector.messages == [SCHEMA] + [m for kind, m in items if kind == "good"]
    expected_lines = [number for number, (kind, _) in enumerate(items, start=2) if kind == "bad"]
    assert [letter.line_number for letter in collector.letters] == expected_lines
