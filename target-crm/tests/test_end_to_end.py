"""tap-shopify-history | target-crm against the Shopify emulator (issue 6 "Done means").

Backfill, re-run (nothing new), then control-API changes (new order, refund, cancellation,
consent change, email change, deletion, merge) produce exactly the expected contacts and
events, with the automation flags right. Everything is read back from the store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow  # subprocess pipelines against the emulator


class Pipeline:
    """`tap-shopify-history --config c.json [--state s.json] | target-crm --config t.json`."""

    def __init__(self, tmp_path, server, database_url):
        self.tmp = tmp_path
        self.url = database_url
        self.tap_config = tmp_path / "tap.json"
        self.tap_config.write_text(
            json.dumps({"store_url": server.base_url, "access_token": server.token})
        )
        self.target_config = tmp_path / "target.json"
        self.target_config.write_text(json.dumps({"database_url": database_url}))
        self.state = None

    def run(self):
        tap_cmd = [str(BIN / "tap-shopify-history"), "--config", str(self.tap_config)]
        if self.state is not None:
            state_file = self.tmp / "state.json"
            state_file.write_text(json.dumps(self.state))
            tap_cmd += ["--state", str(state_file)]
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        target = subprocess.run(
            [str(BIN / "target-crm"), "--config", str(self.target_config)],
            stdin=tap.stdout,
            capture_output=True,
            timeout=300,
            check=False,
        )
        tap.stdout.close()
        tap_err = tap.stderr.read().decode()
        assert tap.wait(timeout=60) == 0, tap_err[-3000:]
        assert target.returncode == 0, target.stderr.decode()[-3000:]
        states = [json.loads(line) for line in target.stdout.decode().splitlines() if line.strip()]
        assert states, "the target emitted no STATE"
        self.state = states[-1]

    def rows(self, sql):
        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.text(sql))]
        engine.dispose()
        return rows

    def last_run_events(self):
        return self.rows(
            "select event_id, kind, customer_id, triggers_automations from events where run_id = "
            "(select run_id from sync_runs order by started_at desc limit 1) order by event_id"
        )


def expected_backfill(snapshot):
    with_email = {c["id"] for c in snapshot["customers"] if (c["email"] or "").strip()}
    placed = {
        o["id"] for o in snapshot["orders"] if not o["test"] and o["customer_id"] in with_email
    }
    return with_email, placed


PAID = {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}  # paid_financial_statuses' default


def ltv(snapshot, customer_ids):
    """Lifetime value as the README states it: paid money after refunds, not test/cancelled."""
    total = Decimal(0)
    for o in snapshot["orders"]:
        if o["customer_id"] not in customer_ids or o["test"] or o["cancelled_at"]:
            continue
        if o["financial_status"] in PAID:
            total += max(Decimal(0), Decimal(o["total_price"]) - Decimal(o["total_refunded"]))
    return total


def test_backfill_rerun_and_changes(tmp_path, shopify_emulator, database_url):
    server, control = shopify_emulator, shopify_emulator.control
    shop = server.shop_domain
    pipe = Pipeline(tmp_path, server, database_url)
    # Customers without orders (Shopify refuses to delete a customer with orders).
    consent_changer, email_changer, deleted = (
        control.create_customer(email=f"orderless{i}@example.com", first_name=f"O{i}")
        for i in range(3)
    )

    # 1. Backfill: one contact per customer with an email, one Order Placed per order.
    pipe.run()
    truth = control.snapshot()
    contacts, placed = expected_backfill(truth)
    assert {r[0] for r in pipe.rows("select customer_id from contacts")} == contacts
    assert {
        r[0] for r in pipe.rows("select order_id from events where kind = 'order_placed'")
    } == placed
    assert pipe.rows("select count(*) from events where triggers_automations") == [(0,)]
    assert pipe.rows("select count(*) from shops where cutover_at is not null") == [(1,)]

    # 2. Re-run: nothing new.
    pipe.run()
    assert pipe.last_run_events() == []
    assert len(pipe.rows("select 1 from contacts")) == len(contacts)

    # 3. Changes through the control API, later in store time.
    control.advance_time(3600)
    by_orders: dict[int, list[dict]] = {}
    for o in truth["orders"]:
        if o["customer_id"] in contacts and not o["test"]:
            by_orders.setdefault(o["customer_id"], []).append(o)
    movers = sorted(cid for cid, orders in by_orders.items() if len(orders) >= 2)
    buyer, refunded_owner, keep, remove = movers[:4]
    refund_target = next(o for o in by_orders[refunded_owner] if not o["cancelled_at"])
    cancel_target = next(
        o for o in by_orders[buyer] if not o["cancelled_at"] and o["id"] != refund_target["id"]
    )
    consent_state = next(
        c["email_marketing_state"] for c in truth["customers"] if c["id"] == consent_changer
    )
    new_consent = "SUBSCRIBED" if consent_state == "UNSUBSCRIBED" else "UNSUBSCRIBED"
    new_order = control.create_order(buyer)
    refund_id = control.refund_order(refund_target["id"], amount="5.00")
    control.cancel_order(cancel_target["id"])
    control.update_customer(consent_changer, email_state=new_consent)
    control.update_customer(email_changer, email="changed.address@example.com")
    control.delete_customer(deleted)
    control.merge_customers(keep, remove)
    pipe.run()
    after = control.snapshot()

    events = pipe.last_run_events()
    assert all(flag for *_, flag in events), events  # changes after the cut-over trigger
    order_events = {(kind, eid) for eid, kind, _, _ in events if kind.startswith("order_")}
    moved = {o["id"] for o in by_orders[remove]}
    assert order_events == {
        ("order_placed", f"order_placed:{shop}:{new_order}"),
        ("order_refunded", f"order_refunded:{shop}:{refund_target['id']}:{refund_id}"),
        ("order_cancelled", f"order_cancelled:{shop}:{cancel_target['id']}"),
        *{("order_updated", eid) for eid, kind, _, _ in events if kind == "order_updated"},
    }
    updated_orders = {
        int(eid.split(":")[2]) for eid, kind, _, _ in events if kind == "order_updated"
    }
    assert updated_orders == moved  # their customer changed in the merge
    contact_events = {(kind, cid) for _, kind, cid, _ in events if kind.startswith("contact_")}
    assert ("contact_deleted", deleted) in contact_events
    assert ("contact_merged", keep) in contact_events
    assert ("contact_updated", consent_changer) in contact_events
    assert ("contact_updated", email_changer) in contact_events
    assert not any(kind == "contact_created" for kind, _ in contact_events)

    status = dict(pipe.rows("select customer_id, status from contacts"))
    assert status[deleted] == "deleted"
    assert status[remove] == "merged"
    assert pipe.rows(f"select merged_into from contacts where customer_id = {remove}") == [(keep,)]
    assert pipe.rows(f"select count(*) from events where customer_id = {remove}") == [(0,)]
    assert pipe.rows(f"select email from contacts where customer_id = {email_changer}") == [
        ("changed.address@example.com",)
    ]
    ((accepts,),) = pipe.rows(
        f"select accepts_email_marketing from contacts where customer_id = {consent_changer}"
    )
    assert bool(accepts) is (new_consent == "SUBSCRIBED")
    assert pipe.rows(
        f"select decision from consent_audit where customer_id = {consent_changer} "
        f"and new_state = '{new_consent}'"
    ) == [("applied",)]
    for owner in (keep, refunded_owner, buyer):
        ((value,),) = pipe.rows(f"select lifetime_value from contacts where customer_id = {owner}")
        assert Decimal(str(value)) == ltv(after, {owner}), owner
    # every contact still matches one Shopify customer; deleted/merged ones are kept, marked
    live = {c["id"] for c in after["customers"] if (c["email"] or "").strip()}
    active = {cid for cid, s in status.items() if s == "active"}
    assert active == live
