"""The testkit's hostile-input cases, read by the reader: the contract's premises hold."""

from __future__ import annotations

import io
import json
from typing import Any

from target_runtime.singer_input import DeadLetter, ResilientSingerReader
from testkit.hostile_inputs import HOSTILE_CASES, good_input, hostile_input
from testkit.target_contract import TargetContract

KINDS = ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH")


def read(lines: list[bytes]) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    messages: list[dict[str, Any]] = []
    letters: list[DeadLetter] = []
    reader = ResilientSingerReader()
    reader.on_dead_letter = letters.append
    data = io.BytesIO(b"".join(line + b"\n" for line in lines))
    reader.process_lines(io.TextIOWrapper(data), dict.fromkeys(KINDS, messages.append))
    return messages, letters


def test_every_hostile_line_is_dead_lettered_on_its_line_with_the_expected_reason() -> None:
    made = hostile_input(TargetContract.sample_store(), HOSTILE_CASES)
    messages, letters = read(made.lines)
    expected = {
        made.line_numbers[case.id]: case.reason for case in HOSTILE_CASES if case.line is not None
    }
    assert {letter.line_number for letter in letters} == set(expected)
    for letter in letters:
        assert expected[letter.line_number].lower() in letter.reason.lower(), letter
    good = good_input(TargetContract.sample_store())
    records = [m for m in messages if m["type"] == "RECORD"]
    non_line_cases = [case for case in HOSTILE_CASES if case.line is None]
    assert len(records) == sum(b'"RECORD"' in line for line in good) + len(non_line_cases)


def test_each_case_sits_between_good_records_of_its_stream() -> None:
    made = hostile_input(TargetContract.sample_store(), HOSTILE_CASES)
    case_lines = set(made.line_numbers.values())
    for case in HOSTILE_CASES:
        number = made.line_numbers[case.id]
        before = [n for n in range(1, number) if n not in case_lines]
        after = [n for n in range(number + 1, len(made.lines) + 1) if n not in case_lines]
        stream = f'"stream": "{case.stream}"'.encode()
        assert any(stream in made.lines[n - 1] and b'"RECORD"' in made.lines[n - 1] for n in before)
        assert any(stream in made.lines[n - 1] and b'"RECORD"' in made.lines[n - 1] for n in after)


def test_the_manifest_counts_every_record_message_of_each_stream() -> None:
    made = hostile_input(TargetContract.sample_store(), HOSTILE_CASES)
    messages, _ = read(made.lines)
    manifest = {
        m["record"]["stream"]: m["record"]["emitted"]
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "sync_manifest"
    }
    counts: dict[str, int] = {}
    for m in messages:
        if m["type"] == "RECORD" and m["stream"] != "sync_manifest":
            counts[m["stream"]] = counts.get(m["stream"], 0) + 1
    assert manifest == counts
    assert json.loads(made.lines[-1])["stream"] == "sync_manifest"
