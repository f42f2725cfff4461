"""`meltano run tap-shopify-history target-crm-moengage` / `... target-crm-ometria` end to end.

Real Meltano, the real tap against the emulator, the target delivering over HTTP to the
MoEngage and Ometria stand-ins; MoEngage on SQLite, Ometria on PostgreSQL. Every event and
contact of the CRM store arrives once; a second run sends nothing; no API key in the logs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from shopify_emulator import generate_store

from .conftest import MeltanoProject


def _store(url: str) -> tuple[list[Any], set[int], set[str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        events = [
            (kind, order_id, json.loads(props) if isinstance(props, str) else props, cid)
            for kind, order_id, props, cid in conn.execute(
                sa.text("SELECT kind, order_id, properties, customer_id FROM events")
            )
        ]
        contacts = set(
            conn.scalars(sa.text("SELECT customer_id FROM contacts WHERE status = 'active'"))
        )
        # MoEngage's user id: the normalised email (identifier=email). Two Shopify customers
        # sharing one (duplicate_policy=flag keeps both) are one MoEngage user.
        users = set(
            conn.scalars(sa.text("SELECT email_normalized FROM contacts WHERE status = 'active'"))
        )
        states = set(conn.scalars(sa.text("SELECT DISTINCT status FROM outbox")))
    engine.dispose()
    assert states <= {"sent", "skipped"}, states
    return events, contacts, users


def _platform_posts(standin: Any) -> int:
    return sum(1 for r in standin.control.requests() if r["method"] == "POST")


@pytest.mark.e2e
@pytest.mark.parametrize("destination_urls", ["sqlite"], indirect=True)
def test_meltano_run_to_moengage(
    meltano_project: MeltanoProject,
    destination_urls: dict[str, str],
    emulator_factory: Any,
    standin_factory: Any,
) -> None:
    emulator = emulator_factory(store=generate_store(seed=5, customers=20, orders=60))
    moe = standin_factory("moengage")
    meltano_project.env.update(
        SHOPIFY_STORE_URL=emulator.base_url,
        SHOPIFY_ACCESS_TOKEN=emulator.token,
        MOENGAGE_WORKSPACE_ID=moe.workspace_id,
        MOENGAGE_API_KEY=moe.api_key,
        MOENGAGE_API_URL=moe.base_url,
    )
    meltano_project("run", "tap-shopify-history", "target-crm-moengage")

    events, _, users = _store(destination_urls["crm"])
    assert events
    expected = Counter(
        ("order", kind, order_id, props.get("refund_id")) if order_id else ("contact", kind, cid)
        for kind, order_id, props, cid in events
    )
    received: Counter = Counter()
    for e in moe.control.events():
        a = e["attributes"]
        if a.get("order_id"):
            kind = {"Order Placed": "order_placed", "Order Refunded": "order_refunded"}.get(
                e["action"], e["action"].lower().replace(" ", "_")
            )
            received[("order", kind, a["order_id"], a.get("refund_id"))] += 1
        else:
            received[("contact", e["action"].replace(".", "_"), None)] += 1
    orders_expected = Counter({k: n for k, n in expected.items() if k[0] == "order"})
    assert Counter({k: n for k, n in received.items() if k[0] == "order"}) == orders_expected
    assert set(orders_expected.values()) == {1}  # each order event once
    contact_events = sum(n for k, n in expected.items() if k[0] == "contact")
    assert sum(n for k, n in received.items() if k[0] == "contact") == contact_events
    assert set(moe.control.profiles()) == users

    posts = _platform_posts(moe)
    meltano_project("run", "tap-shopify-history", "target-crm-moengage")
    assert _platform_posts(moe) == posts  # the second run sends nothing
    assert all(moe.api_key not in log for log in meltano_project.logs)


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.parametrize("destination_urls", ["postgresql"], indirect=True)
def test_meltano_run_to_ometria(
    meltano_project: MeltanoProject,
    destination_urls: dict[str, str],
    emulator_factory: Any,
    standin_factory: Any,
) -> None:
    emulator = emulator_factory(store=generate_store(seed=6, customers=20, orders=60))
    om = standin_factory("ometria", processing_delay_seconds=0)
    meltano_project.env.update(
        SHOPIFY_STORE_URL=emulator.base_url,
        SHOPIFY_ACCESS_TOKEN=emulator.token,
        OMETRIA_API_KEY=om.api_key,
        OMETRIA_COLLECTION="shopify-e2e",
        OMETRIA_API_URL=om.base_url,
    )
    meltano_project("run", "tap-shopify-history", "target-crm-ometria")

    events, contacts, _ = _store(destination_urls["crm"])
    om.control.drain()
    orders = {str(order_id) for kind, order_id, _, _ in events if kind == "order_placed"}
    assert orders
    assert {r["id"] for r in om.control.records(type="order")} == orders
    assert {r["id"] for r in om.control.records(type="contact")} == {str(c) for c in contacts}
    assert om.control.rejected() == []
    truth = {o["id"]: o for o in emulator.control.snapshot()["orders"]}
    for record in om.control.records(type="order"):
        shop_order = truth[int(record["id"])]
        cancelled = shop_order["cancelled_at"] is not None
        assert (record["record"]["is_valid"] is False) == (
            cancelled or record["record"]["status"] == "refunded"
        )

    posts = _platform_posts(om)
    meltano_project("run", "tap-shopify-history", "target-crm-ometria")
    assert _platform_posts(om) == posts
    assert all(om.api_key not in log for log in meltano_project.logs)
