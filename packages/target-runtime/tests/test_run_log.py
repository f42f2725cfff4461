"""BatchLog: one plain-text INFO line per committed batch and one per run."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_runtime.run_log import BatchLog, format_count, format_duration


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run_log(caplog: pytest.LogCaptureFixture, clock: FakeClock, **kwargs: str) -> BatchLog:
    caplog.set_level(logging.INFO, logger="target-example")
    return BatchLog(logging.getLogger("target-example"), clock=clock, **kwargs)


def test_batch_lines_carry_the_batch_and_the_run_total(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    log = run_log(caplog, clock)
    clock.now += 2
    log.committed(stream="orders", records=500, applied=498, rejected=2)
    clock.now += 3
    log.committed(stream="customers", records=1500, applied=1500)
    assert caplog.messages == [
        "batch committed: orders 500 records, 498 applied, 2 rejected; "
        "run total 500 records (250/s)",
        "batch committed: customers 1,500 records, 1,500 applied, 0 rejected; "
        "run total 2,000 records (400/s)",
    ]
    assert all(record.levelno == logging.INFO for record in caplog.records)


def test_one_batch_over_several_streams_names_each_share(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    log = run_log(caplog, clock, rejected_word="quarantined")
    clock.now += 1
    line = log.committed(stream={"orders": 300, "customers": 200}, applied=499, rejected=1)
    assert line == (
        "batch committed: customers 200, orders 300 = 500 records, 499 applied, 1 quarantined; "
        "run total 500 records (500/s)"
    )
    assert log.records_by_stream == {"orders": 300, "customers": 200}


def test_summary_totals_per_stream_and_elapsed(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    log = run_log(caplog, clock)
    log.committed(stream="orders", records=10_000, applied=9_990, rejected=10)
    log.committed(stream={"orders": 2_000, "customers": 500}, applied=2_490, rejected=10)
    clock.now += 125
    line = log.summary(outcome="succeeded")
    assert line == (
        "run succeeded in 2m 05s: 12,500 records (customers 500, orders 12,000) in 2 batches, "
        "12,480 applied, 20 rejected (100/s)"
    )
    assert caplog.messages[-1] == line


def test_summary_of_a_run_without_records(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    log = run_log(caplog, clock)
    clock.now += 0.25
    assert log.summary(outcome="failed") == "run failed in 0.2s: no records"


def test_a_rate_over_no_time_is_not_a_figure(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    log = run_log(caplog, clock)
    line = log.committed(stream="orders", records=1, applied=1)
    assert line.endswith("run total 1 records (rate n/a)")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stream": "orders", "applied": 1}, "records is required"),
        ({"stream": {"orders": 2}, "records": 3, "applied": 1}, "disagrees"),
        ({"stream": "orders", "records": -1, "applied": 0}, "must not be negative"),
        ({"stream": "orders", "records": 1, "applied": -1}, "must not be negative"),
    ],
)
def test_inconsistent_counts_are_refused_and_not_counted(
    caplog: pytest.LogCaptureFixture, clock: FakeClock, kwargs: dict, message: str
) -> None:
    log = run_log(caplog, clock)
    with pytest.raises(ValueError, match=message):
        log.committed(**kwargs)
    assert (log.batches, log.applied, log.records_by_stream) == (0, 0, {})


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0.0s"), (59.94, "59.9s"), (60, "1m 00s"), (3599, "59m 59s"), (3720, "1h 02m")],
)
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(
    batches=st.lists(
        st.tuples(
            st.sampled_from(["orders", "customers", "refunds"]),
            st.integers(0, 10_000),
            st.integers(0, 10_000),
        ),
        max_size=20,
    )
)
def test_totals_are_the_sums_of_the_batches(batches: list[tuple[str, int, int]]) -> None:
    clock = FakeClock()
    log = BatchLog(logging.getLogger("target-example.property"), clock=clock)
    for stream, records, rejected in batches:
        clock.now += 0.5
        log.committed(stream=stream, records=records, applied=records, rejected=rejected)
    expected: dict[str, int] = {}
    for stream, records, _ in batches:
        expected[stream] = expected.get(stream, 0) + records
    assert {k: v for k, v in log.records_by_stream.items() if v} == {
        k: v for k, v in expected.items() if v
    }
    assert log.rejected == sum(rejected for _, _, rejected in batches)
    line = log.summary(outcome="succeeded")
    total = sum(expected.values())
    if total:
        assert f": {format_count(total)} records (" in line
    # Plain text only: no Python reprs of containers or objects leak into the line.
    assert not re.search(r"[{}\[\]<>]|\w+\(\w+=", line)
