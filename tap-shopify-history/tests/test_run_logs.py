"""What a run logs at INFO: phases, progress of Shopify's count with a falling ETA, one
summary line per stream, bulk status changes once each, no Python reprs.

Issue: the demo's log held a line per bulk poll, reprs such as ``Window(start=None,
end=None)``, and an ETA counting bulk objects (line items too) against a total of
``max_records`` per window: ``~74999 left (est. 1300530s)`` for a 20,000-order store.
"""

from __future__ import annotations

import re
import warnings
from datetime import timedelta

import pytest
from shopify_emulator import generate_store
from tap_runner import run_tap
from tap_shopify_history import progress
from tap_shopify_history.progress import format_duration
from tap_shopify_history.tap import TapShopifyHistory

PROGRESS = re.compile(
    r"^(\w+): ([\d,]+) of ([\d,]+) read \(\d+%\), ([\d,]+)/s, ETA (\d+):(\d\d):(\d\d)$"
)
POLL = re.compile(r"^(\w+): bulk operation (\d+) (CREATED|RUNNING|COMPLETED|FAILED)")
# `Window(start=...)`, `BulkOperation(id=...)`: a dataclass or object repr in a message.
REPR = re.compile(r"\b[A-Z]\w*\(\w+=|<\w+(\.\w+)* object at 0x")


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "INFO"]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _config(server, **extra):
    return {"store_url": server.base_url, "access_token": server.token, **extra}


@pytest.mark.parametrize(
    ("duration", "expected"),
    [(0, "0:00:00"), (65.4, "0:01:05"), (3725, "1:02:05"), (float("inf"), "unknown")],
    ids=["zero", "minute", "hour", "unknown"],
)
def test_durations_read_as_hours_minutes_seconds(duration: float, expected: str) -> None:
    assert format_duration(duration) == expected
    if duration != float("inf"):
        assert str(timedelta(seconds=round(duration))) == expected


def test_progress_counts_orders_of_shopifys_count_and_the_eta_follows_the_rate(
    emulator_factory, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(progress, "DEFAULT_INTERVAL", 0.05)
    store = generate_store(seed=21, customers=30, orders=400)
    server = emulator_factory(store=store, plan="plus")
    with caplog.at_level("INFO"):
        output = run_tap(_config(server, extraction_mode="paginated"))
    messages = _messages(caplog)
    orders_total = len(server.control.snapshot()["orders"])
    lines = [m.groups() for m in map(PROGRESS.match, messages) if m and m.group(1) == "orders"]
    assert len(lines) >= 3, messages
    assert {_number(total) for _, _, total, *_ in lines} == {orders_total}
    done = [_number(count) for _, count, *_ in lines]
    assert done == sorted(set(done))
    assert done[-1] <= orders_total
    # The ETA is the orders left at the line's own rate (records read per second since the
    # stream started, shown rounded to a whole number), in whole seconds. It follows the
    # wall clock, so it is checked against each line's figures rather than for falling.
    for _, count, total, rate, h, m, s in lines:
        left, shown = _number(total) - _number(count), _number(rate)
        eta = int(h) * 3600 + int(m) * 60 + int(s)
        slowest, fastest = max(shown - 0.5, 1e-9), shown + 0.5
        assert left / fastest - 0.5 <= eta <= left / slowest + 0.5, (count, total, rate, eta)
    emitted = len(output.records("orders"))
    summaries = [m for m in messages if m.startswith("orders: finished: ")]
    assert len(summaries) == 1
    assert summaries[0].startswith(
        f"orders: finished: {orders_total:,} read of {orders_total:,} counted by Shopify, "
        f"{emitted:,} emitted, {orders_total - emitted:,} left out"
    )
    for stream in ("customers", "customer_roster"):
        assert sum(m.startswith(f"{stream}: finished: ") for m in messages) == 1
    assert [m for m in messages if REPR.search(m)] == []


def test_bulk_status_is_logged_once_per_change_not_per_poll(emulator_factory, caplog) -> None:
    store = generate_store(seed=22, customers=30, orders=120)
    server = emulator_factory(store=store, bulk_seconds=1.5)
    server.control.reset_usage()
    with caplog.at_level("INFO"):
        run_tap(_config(server, extraction_mode="bulk"))
    messages = _messages(caplog)
    polls = [m.groups() for m in map(POLL.match, messages) if m]
    usage = server.control.usage()
    statuses = {
        (stream, op): [s for st, o, s in polls if (st, o) == (stream, op)]
        for stream, op, _ in polls
    }
    assert len(statuses) == 2  # customers and orders (the roster's job reports nothing)
    # CREATED or RUNNING, then COMPLETED: each status once, however many polls it took.
    assert all(len(seen) == len(set(seen)) <= 3 for seen in statuses.values()), statuses
    assert len(polls) <= 3 * len(statuses)
    assert usage["requests"] > len(polls) + 10  # many polls, few lines
    assert [m for m in messages if REPR.search(m)] == []
    orders_total = len(server.control.snapshot()["orders"])
    assert any(
        m.startswith("orders: bulk read of updated_at from the beginning until ")
        and m.endswith(f": {orders_total:,} counted by Shopify, 1 bulk job(s)")
        for m in messages
    ), messages


def test_building_the_tap_warns_of_nothing_deprecated(recwarn) -> None:
    warnings.simplefilter("always")
    tap = TapShopifyHistory(
        config={"store_url": "http://127.0.0.1:9", "access_token": "x"}, parse_env_config=False
    )
    assert sorted(tap.streams) == [
        "customer_roster",
        "customers",
        "orders",
        "privacy_requests",
        "sync_manifest",
    ]
    assert [str(w.message) for w in recwarn if issubclass(w.category, DeprecationWarning)] == []
