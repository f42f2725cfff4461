"""Delivery settings away from their defaults, against the stand-ins over real HTTP.

moengage_retention_days, moengage_historical_attribute, moengage_data_center,
delivery_max_attempts and delivery_max_backoff_seconds; each expectation is recomputed from
the rule the README states for the setting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from crm_records import Feed, customer, later, order, run_target
from delivery_helpers import moengage_config, outbox
from target_crm import schema as t
from target_crm.delivery.config import delivery_from_config
from target_crm.delivery.engine import DeliveryEngine
from target_crm.exceptions import CrmConfigError, DeliveryIncompleteError
from target_crm.report import build_report


def _feed() -> Feed:
    feed = Feed().customers(*[customer(i) for i in (1, 2, 3)])
    return feed.orders(*[order(100 + i, i, at=later(days=i)) for i in (1, 2, 3)]).manifest()


def _event_times(url: str) -> dict[str, datetime]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.events.c.event_id, t.events.c.occurred_at)).all()
    engine.dispose()
    return {r[0]: r[1] for r in rows}


def test_retention_days_keeps_older_events_unsent_and_counts_them(sqlite_url, moengage_standin):
    moe = moengage_standin
    now, days = later(days=10, hours=1), 8
    run_target(moengage_config(sqlite_url, moe, moengage_retention_days=days), _feed(), now=now)
    # The rule: an event older than the retention window (before now - days) is not sent.
    cutoff = now - timedelta(days=days)
    times = _event_times(sqlite_url)
    old = {k for k, at in times.items() if at < cutoff}
    assert old
    assert old != set(times)
    states = outbox(sqlite_url, "moengage")
    assert {
        k for (e, k), (s, _) in states.items() if e == "event" and s == "outside_retention"
    } == old
    assert len(moe.control.events()) == len(times) - len(old)
    entry = next(e for e in build_report(sqlite_url)["delivery"] if e["destination"] == "moengage")
    assert entry["outside_retention"] == len(old)


def test_historical_attribute_takes_the_configured_name(sqlite_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(sqlite_url, moe, moengage_historical_attribute="backfilled")
    run_target(config, _feed())
    events = moe.control.events()
    assert events
    # A backfill is all before the cut-over: every event is flagged under the chosen name.
    assert {e["attributes"]["backfilled"] for e in events} == {True}
    assert all("historical" not in e["attributes"] for e in events)


@pytest.mark.parametrize(
    ("data_center", "host"),
    [("01", "https://api-01.moengage.com"), ("3", "https://api-03.moengage.com")],
    ids=["default-01", "short-3"],
)
def test_data_center_picks_the_host(data_center, host):
    config = {"moengage_workspace_id": "W", "moengage_api_key": "k"}
    adapter = delivery_from_config({**config, "moengage_data_center": data_center}, "email")
    assert adapter.adapters[0].url == f"{host}/v1/transition/W"


def test_unknown_data_center_is_refused_by_name():
    config = {"moengage_workspace_id": "W", "moengage_api_key": "k", "moengage_data_center": "99"}
    with pytest.raises(CrmConfigError, match="moengage_data_center"):
        delivery_from_config(config, "email")


def test_max_attempts_gives_up_and_keeps_rows_pending(sqlite_url, moengage_standin):
    moe = moengage_standin
    moe.control.fail_next(10, status=503)
    with pytest.raises(DeliveryIncompleteError):
        run_target(moengage_config(sqlite_url, moe, delivery_max_attempts=2), _feed())
    # Two attempts for the first request, then the destination stops for this run.
    assert [r["outcome"] for r in moe.control.requests()] == ["fault_server_error"] * 2
    assert "sent" not in {s for s, _ in outbox(sqlite_url, "moengage").values()}


def test_max_backoff_caps_every_wait(sqlite_url):
    config = {
        "moengage_workspace_id": "W",
        "moengage_api_key": "k",
        "delivery_backoff_seconds": 4,
        "delivery_max_backoff_seconds": 5,
        "delivery_max_attempts": 5,
    }
    settings = delivery_from_config(config, "email")
    waits: list[float] = []
    engine = DeliveryEngine(
        sa.create_engine(sqlite_url), settings.adapters, "run", settings.policy, sleep=waits.append
    )
    for attempt in range(1, 5):
        engine._backoff(attempt, None)
    engine._backoff(1, "30")  # a Retry-After longer than the cap is capped too
    # The rule: backoff_seconds doubling per attempt, never above max_backoff_seconds.
    assert waits == [min(4 * 2 ** (a - 1), 5) for a in range(1, 5)] + [5]
