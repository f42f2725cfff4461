"""Faults against the stand-ins: 5xx storms, 429 with Retry-After, dropped connections after
the platform stored the request, slow answers, refused credentials; in-doubt handling per
platform (Ometria re-sent, MoEngage only with moengage_resend_in_doubt), counted either way.
"""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from crm_records import Feed, customer, later, order, run_target
from delivery_helpers import moengage_config, ometria_config, outbox, requests_log
from target_crm.exceptions import DeliveryIncompleteError
from target_crm.report import build_report


def _feed(n: int = 3) -> Feed:
    feed = Feed().customers(*[customer(i) for i in range(1, n + 1)])
    return feed.orders(*[order(100 + i, i, at=later(days=i)) for i in range(1, n + 1)]).manifest()


def _entry(url: str, destination: str) -> dict:
    return next(e for e in build_report(url)["delivery"] if e["destination"] == destination)


def test_5xx_storm_is_retried_until_accepted(sqlite_url, moengage_standin):
    moe = moengage_standin
    moe.control.fail_next(2, status=503)
    run_target(moengage_config(sqlite_url, moe), _feed())
    outcomes = [r["outcome"] for r in moe.control.requests()]
    assert outcomes[:3] == ["fault_server_error", "fault_server_error", "accepted"]
    assert requests_log(sqlite_url, "moengage")[0].attempts == 3
    assert len(moe.control.events()) == 6  # each stored once
    assert {s for s, _ in outbox(sqlite_url, "moengage").values()} == {"sent"}


def test_429_waits_for_retry_after(sqlite_url, ometria_standin):
    om = ometria_standin
    om.control.configure(requests_per_second=1, retry_after_seconds=1)
    run_target(
        ometria_config(sqlite_url, om),
        Feed().customers(*[customer(i) for i in range(1, 151)]).manifest(),
    )
    log = [r for r in om.control.requests() if r["path"] == "/v2/push"]
    assert [r["outcome"] for r in log][:3] == ["ok", "rate_limited", "ok"]
    assert log[2]["received_at"] - log[1]["received_at"] >= 1.0  # Retry-After honoured
    om.control.drain()
    assert len(om.control.records(type="contact")) == 150
    assert [r.attempts for r in requests_log(sqlite_url, "ometria")] == [1, 2]


def test_ometria_lost_answer_is_resent_and_counted(sqlite_url, ometria_standin):
    om = ometria_standin
    om.control.drop_next(1)
    run_target(ometria_config(sqlite_url, om), _feed())
    pushes = [r for r in om.control.requests() if r["path"] == "/v2/push"]
    assert pushes[0]["dropped_connection"] is True
    assert pushes[1]["records"] == pushes[0]["records"]  # the same records, again
    om.control.drain()
    assert len(om.control.records(type="contact")) == 3  # upserted: still one each
    first = requests_log(sqlite_url, "ometria")[0]
    assert (first.status, first.lost_answers, first.attempts) == ("sent", 1, 2)
    assert _entry(sqlite_url, "ometria")["lost_answers"] == 1


@pytest.mark.parametrize("fault", ["drop", "slow"])
def test_moengage_in_doubt_is_not_resent_by_default(sqlite_url, moengage_standin, fault):
    moe = moengage_standin
    config = moengage_config(sqlite_url, moe, delivery_timeout_seconds=0.5)
    run_target(config, Feed().customers(customer(1)).manifest())  # contact + contact.created
    if fault == "drop":
        moe.control.drop_next(1)
    else:
        moe.control.slow_next(1, seconds=1.5)
    feed = Feed().orders(order(101, 1)).manifest(run_id="tap-run-2")
    run_target(config, feed)
    placed = [e for e in moe.control.events() if e["action"] == "Order Placed"]
    assert len(placed) == 1  # it did arrive, once: not sent again
    rows = outbox(sqlite_url, "moengage")
    key = ("event", "order_placed:demo-store.myshopify.com:101")
    assert rows[key][0] == "in_doubt"
    entry = _entry(sqlite_url, "moengage")
    assert (entry["in_doubt"], entry["in_doubt_requests"]) == (2, 1)  # its contact, its event
    # The next run re-sends the profile (an upsert) but never the event.
    run_target(config, "")
    assert len([e for e in moe.control.events() if e["action"] == "Order Placed"]) == 1
    assert outbox(sqlite_url, "moengage")[("contact", "demo-store.myshopify.com:1")][0] == "sent"
    assert outbox(sqlite_url, "moengage")[key][0] == "in_doubt"


def test_moengage_resend_in_doubt_sends_again_and_counts(sqlite_url, moengage_standin):
    moe = moengage_standin
    config = moengage_config(sqlite_url, moe, moengage_resend_in_doubt=True)
    moe.control.drop_next(1)
    run_target(config, Feed().customers(customer(1)).manifest())
    assert [e["action"] for e in moe.control.events()] == ["contact.created", "contact.created"]
    first = requests_log(sqlite_url, "moengage")[0]
    assert (first.status, first.lost_answers) == ("sent", 1)
    assert _entry(sqlite_url, "moengage")["lost_answers"] == 1


def test_refused_key_fails_the_run_and_the_next_run_delivers(sqlite_url, ometria_standin):
    om = ometria_standin
    config = ometria_config(sqlite_url, om)
    om.control.fail_auth_next(1)
    with pytest.raises(DeliveryIncompleteError, match="ometria refused the credentials"):
        run_target(config, _feed())
    rows = outbox(sqlite_url, "ometria").items()
    # Nothing was sent; only the contact events (which Ometria does not take) are settled.
    assert {k for k, (s, _) in rows if s != "pending"} == {
        ("event", f"contact_created:demo-store.myshopify.com:{i}") for i in (1, 2, 3)
    }
    assert {r for _, (s, r) in rows if s == "skipped"} == {"not an order event"}
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        status, error = conn.execute(sa.text("SELECT status, error FROM sync_runs")).one()
    engine.dispose()
    assert status == "failed"
    assert "refused the credentials" in error
    assert om.api_key not in error
    run_target(config, "")
    om.control.drain()
    assert len(om.control.records(type="order")) == 3
    assert {s for s, _ in outbox(sqlite_url, "ometria").values()} == {"sent", "skipped"}


def test_api_keys_appear_in_no_log_state_row_or_payload_file(
    tmp_path, sqlite_url, moengage_standin, ometria_standin, caplog
):
    caplog.set_level(logging.DEBUG)
    config = {
        **moengage_config(sqlite_url, moengage_standin),
        **ometria_config(sqlite_url, ometria_standin),
    }
    moengage_standin.control.fail_next(1)
    ometria_standin.control.drop_next(1)
    states = run_target(config, _feed())
    dry = tmp_path / "dry"
    dry_states = run_target({**config, "delivery_dry_run": str(dry)}, _feed(5))
    files = sorted(dry.rglob("*.json"))
    assert {f.parent.name for f in files} == {"moengage", "ometria"}
    assert all(json.loads(f.read_bytes()) for f in files)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        dump = "\n".join(
            repr(row) for name in tables for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))
        )
    engine.dispose()
    texts = [caplog.text, json.dumps(states), json.dumps(dry_states), dump]
    texts += [f.read_text() for f in files]
    for key in (moengage_standin.api_key, ometria_standin.api_key):
        assert all(key not in text for text in texts)
    assert "outbox" in tables  # the dump did read the store
