"""The near-real-time job end to end: emulator webhooks -> receiver -> `meltano run near-real-time`.

Real Meltano running the shipped job (`tap-shopify-history-webhooks target-loyalty`, then
`tap-shopify-history-webhooks target-crm` delivering to the MoEngage stand-in), the
emulator sending signed webhooks to the real receiver, which queues them. A change made
through the emulator's control API reaches the ledger, the CRM store and MoEngage through
the webhook path alone (the job reads no `updated_at` window); a `customers/redact`
compliance webhook then leaves no trace of that customer in either database, with the
balances unchanged, and is forwarded to MoEngage as a Delete User call.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from shopify_emulator import generate_store
from shopify_emulator.webhooks import TOPICS, WebhookSettings
from shopify_webhooks.server import WebhookServer
from shopify_webhooks.settings import ReceiverSettings

from .conftest import MeltanoProject

SECRET = "near-real-time-test-secret"
EMAIL, PHONE = "fresh.buyer@example.com", "+16135550123"
FIRST, LAST = "Philippa", "Quartermaine"
POINTS = "SELECT sum(points) FROM loyalty_ledger WHERE customer_id = :c"
VALUE = "SELECT lifetime_value FROM contacts WHERE customer_id = :c"


def _dump(url: str) -> str:
    """Every value of every table of a database, as one text (what a grep would search)."""
    engine = sa.create_engine(url)
    parts: list[str] = []
    with engine.connect() as conn:
        metadata = sa.MetaData()
        metadata.reflect(conn)
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    engine.dispose()
    return "\n".join(parts)


def _scalar(url: str, sql: str, **params: Any) -> Any:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


@pytest.mark.e2e
@pytest.mark.parametrize("destination_urls", ["sqlite"], indirect=True)
def test_a_webhooked_change_and_a_redaction_reach_both_targets_and_moengage(
    meltano_project: MeltanoProject,
    destination_urls: dict[str, str],
    emulator_factory: Any,
    standin_factory: Any,
    tmp_path: Path,
) -> None:
    emulator = emulator_factory(
        store=generate_store(seed=11, customers=8, orders=20),
        webhooks=WebhookSettings(client_secret=SECRET, time_scale=1 / 3600),
    )
    moe = standin_factory("moengage")
    queue_url = f"sqlite:///{tmp_path / 'webhooks.db'}"
    loyalty, crm = destination_urls["loyalty"], destination_urls["crm"]
    with WebhookServer(ReceiverSettings(database_url=queue_url, secrets=(SECRET,))) as receiver:
        for topic in TOPICS:
            emulator.control.subscribe_webhook(topic=topic, callback_url=receiver.webhook_url)
        emulator.control.configure_webhooks(compliance_url=receiver.webhook_url)
        meltano_project.env.update(
            SHOPIFY_STORE_URL=emulator.base_url,
            SHOPIFY_ACCESS_TOKEN=emulator.token,
            TAP_SHOPIFY_HISTORY_WEBHOOK_QUEUE_URL=queue_url,
            TARGET_CRM_MOENGAGE_WORKSPACE_ID=moe.workspace_id,
            TARGET_CRM_MOENGAGE_API_KEY=moe.api_key,
            TARGET_CRM_MOENGAGE_API_URL=moe.base_url,
        )

        changed_at = time.monotonic()
        customer = emulator.control.create_customer(
            email=EMAIL, phone=PHONE, first_name=FIRST, last_name=LAST
        )
        order = emulator.control.create_order(customer)
        assert emulator.control.wait_webhooks_idle(timeout=30)
        meltano_project("run", "near-real-time")
        elapsed = time.monotonic() - changed_at
        print(f"change to committed in both targets: {elapsed:.1f} s")  # noqa: T201

        # Through the webhook path alone: the job read no window, yet both targets have it.
        assert _scalar(loyalty, "SELECT count(*) FROM loyalty_orders WHERE order_id = :o", o=order)
        points = _scalar(loyalty, POINTS, c=customer)
        assert points is not None
        assert points > 0
        assert _scalar(crm, "SELECT count(*) FROM events WHERE order_id = :o", o=order) == 1
        placed = [
            e
            for e in moe.control.events()
            if e["action"] == "Order Placed" and e["attributes"].get("order_id") == order
        ]
        assert [e["customer_id"] for e in placed] == [EMAIL]
        for url in (loyalty, crm):
            dump = _dump(url)
            assert EMAIL in dump  # so the grep below can fail
            assert FIRST in dump

        balance = _scalar(loyalty, POINTS, c=customer)
        value = _scalar(crm, VALUE, c=customer)
        emulator.control.send_compliance_webhook("customers/redact", customer_id=customer)
        assert emulator.control.wait_webhooks_idle(timeout=30)
        elements_before = len(moe.control.elements())
        meltano_project("run", "near-real-time")

    for url in (loyalty, crm):
        dump = _dump(url)
        found = [v for v in (EMAIL, PHONE, FIRST, LAST, PHONE.lstrip("+")) if v in dump]
        assert found == [], f"{url.rsplit('/', 1)[-1]} still holds {found}"
    assert _scalar(loyalty, POINTS, c=customer) == balance
    assert Decimal(str(_scalar(crm, VALUE, c=customer))) == Decimal(str(value))
    assert _scalar(loyalty, "SELECT count(*) FROM loyalty_privacy_requests") == 1
    assert _scalar(crm, "SELECT count(*) FROM crm_privacy_requests") == 1
    # Nothing the redaction touched went back out with the personal data.
    later = moe.control.elements()[elements_before:]
    assert all(EMAIL not in json.dumps(e["element"]) for e in later)
    # The erasure went to MoEngage once, for the user id the contact was sent under.
    assert [d["identity_value"] for d in moe.control.deletions()] == [EMAIL]
    assert all(moe.api_key not in log and SECRET not in log for log in meltano_project.logs)
