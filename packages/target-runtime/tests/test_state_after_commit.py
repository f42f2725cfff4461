"""StateAfterCommit: a STATE drains, each state is printed once and after its commit."""

from __future__ import annotations

import io
import json
import signal
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from target_runtime.state_after_commit import StateAfterCommit

#: What the example target did, in order (reset by each target).
EVENTS: list[tuple[str, Any]] = []


class ListSink(BatchSink):
    """Commits a batch by noting its ids."""

    max_size = 10_000  # only a drain commits

    def process_batch(self, context: dict[str, Any]) -> None:
        EVENTS.append(("commit", [r["id"] for r in context["records"]]))


class RecordingTarget(Target):
    """singer-sdk's Target, noting each printed state instead of writing it to stdout."""

    name = "target-example"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = ListSink

    def __init__(self) -> None:
        super().__init__(config={}, validate_config=False)
        self.max_parallelism = 1
        EVENTS.clear()
        self.events = EVENTS

    def _write_state_message(self, state: dict[str, Any]) -> None:
        self.events.append(("state", state))


class ExampleTarget(StateAfterCommit, RecordingTarget):
    def run_stopped(self, signum: int) -> None:
        self.events.append(("stopped", signum))


def lines(*messages: dict[str, Any]) -> io.StringIO:
    schema = {
        "type": "SCHEMA",
        "stream": "items",
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "key_properties": ["id"],
    }
    return io.StringIO("".join(json.dumps(m) + "\n" for m in (schema, *messages)))


def record(item_id: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "items", "record": {"id": item_id}}


def state(position: int) -> dict[str, Any]:
    return {"type": "STATE", "value": {"position": position}}


def test_each_state_is_printed_once_right_after_the_records_before_it_commit() -> None:
    target = ExampleTarget()
    target.listen(
        lines(record(1), record(2), state(2), record(3), state(2), record(4), state(4), state(4))
    )
    assert target.events == [
        ("commit", [1, 2]),
        ("state", {"position": 2}),
        # The repeated state 2 commits nothing early: record 3 waits for state 4's drain.
        ("commit", [3, 4]),
        ("state", {"position": 4}),
        # The end of input drains again, with nothing new to print.
    ]
    assert target.emitted_state == {"position": 4}


def test_without_the_mixin_states_wait_for_the_end_and_repeat() -> None:
    """What the mixin changes: singer-sdk alone holds state 2 until the end of input."""
    target = RecordingTarget()
    target.listen(lines(record(1), state(1), record(2), state(2)))
    assert target.events == [("commit", [1, 2]), ("state", {"position": 2})]


def test_a_signal_drains_prints_the_state_then_reports_the_end() -> None:
    target = ExampleTarget()
    target.listen(lines(record(1), state(1)))
    # Input still coming when the signal arrives: one record buffered, then a new state.
    target._process_record_message(record(2))
    target._latest_state = {"position": 2}
    with pytest.raises(SystemExit):
        target._handle_termination(signal.SIGTERM, None)
    assert target.events == [
        ("commit", [1]),
        ("state", {"position": 1}),
        ("commit", [2]),
        ("state", {"position": 2}),
        ("stopped", signal.SIGTERM),
    ]


def test_a_state_with_fractional_numbers_is_printed_as_json_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The resilient reader reads 0.25 as Decimal; the printed state says 0.25 again."""

    class PrintingTarget(StateAfterCommit, Target):
        name = "target-example"
        config_jsonschema = th.PropertiesList().to_dict()
        default_sink_class = ListSink

    target = PrintingTarget(config={}, validate_config=False)
    target._write_state_message({"bookmarks": {"orders": {"cost": Decimal("0.25")}}})
    assert json.loads(capsys.readouterr().out) == {"bookmarks": {"orders": {"cost": 0.25}}}
    assert target.emitted_state == {"bookmarks": {"orders": {"cost": Decimal("0.25")}}}
