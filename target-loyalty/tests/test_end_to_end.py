"""tap-shopify-history | target-loyalty against the Shopify emulator.

The expected ledger is recomputed here, from the emulator's snapshot and the program's
rules as written in the issue, without calling the target's domain code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from loyalty_records import ledger, query
from shopify_emulator import generate_store

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BIN = Path(sys.executable).parent
SIGNUP = 100
PAID = {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}


def sync(tmp_path: Path, server, database_url: str, state: dict | None) -> dict | None:
    """One `tap | target` run; returns the last STATE the target printed."""
    tap_config = tmp_path / "tap.json"
    tap_config.write_text(
        json.dumps(
            {
                "store_url": server.base_url,
                "access_token": server.token,
                "start_date": "2000-01-01T00:00:00Z",
            }
        )
    )
    target_config = tmp_path / "target.json"
    target_config.write_text(
        json.dumps(
            {
                "database_url": database_url,
                "signup_bonus_points": SIGNUP,
                "signup_bonus_existing_customers": True,
                # The test deletes and merges 2 of 21 customers on purpose.
                "max_roster_deletion_share": 0.2,
            }
        )
    )
    tap_cmd = [str(BIN / "tap-shopify-history"), "--config", str(tap_config)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        tap_cmd += ["--state", str(state_file)]
    tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    target = subprocess.run(
        [str(BIN / "target-loyalty"), "--config", str(target_config)],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tap.stdout.close()
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, target.stderr[-3000:]
    report = subprocess.run(
        [str(BIN / "target-loyalty"), "report", "--database-url", database_url, "--limit", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stdout + report.stderr  # the run succeeded
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    return states[-1] if states else state


def expected_balances(snapshot: dict) -> dict[int, int]:
    """The books as the rules say, from Shopify's own data.

    Signup bonus once per live customer; each non-test order that is paid (PAID,
    PARTIALLY_REFUNDED, REFUNDED), not cancelled and not tagged skip_loyalty (any case)
    earns one point per dollar of subtotal still kept after line-item refunds, rounded down.
    """
    balances = {c["id"]: SIGNUP for c in snapshot["customers"]}
    for o in snapshot["orders"]:
        if (
            o["customer_id"] is None
            or o["test"]
            or o["cancelled_at"]
            or o["financial_status"] not in PAID
            or "skip_loyalty" in {t.lower() for t in o["tags"]}
        ):
            continue
        refunded = sum(
            (Decimal(line["subtotal"]) for r in o["refunds"] for line in r["refund_line_items"]),
            Decimal(0),
        )
        kept = max(Decimal(0), Decimal(o["subtotal_price"]) - refunded)
        balances[o["customer_id"]] += int(kept.to_integral_value(rounding=ROUND_FLOOR))
    return balances


def actual_balances(url: str, shop: str) -> dict[int, int]:
    rows = query(
        url,
        "SELECT a.customer_id, COALESCE(SUM(l.points), 0) FROM loyalty_accounts a "
        "LEFT JOIN loyalty_ledger l ON l.shop_domain = a.shop_domain "
        "AND l.customer_id = a.customer_id WHERE a.shop_domain = :s AND a.status = 'active' "
        "GROUP BY a.customer_id",
        s=shop,
    )
    return {int(cid): int(points) for cid, points in rows}


def pick_orders(snapshot: dict, count: int) -> list[dict]:
    """Distinct plain orders (a customer, not test, not cancelled, no refunds, lines)."""
    plain = [
        o
        for o in snapshot["orders"]
        if o["customer_id"]
        and not o["test"]
        and not o["cancelled_at"]
        and not o["refunds"]
        and o["line_items"]
        and o["financial_status"] == "PAID"
        and "skip_loyalty" not in o["tags"]
    ]
    return plain[:count]


def test_tap_to_loyalty_ledger_matches_shopify(emulator_factory, tmp_path):
    server = emulator_factory(generate_store(seed=11, customers=20, orders=70))
    control = server.control
    lonely = control.create_customer(email="lonely@example.com", first_name="Lonely")
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    shop = server.shop_domain

    state = sync(tmp_path, server, url, None)
    first = ledger(url, shop)
    assert actual_balances(url, shop) == expected_balances(control.snapshot())
    # A second identical run (full re-read, no state) adds nothing.
    sync(tmp_path, server, url, None)
    assert ledger(url, shop) == first

    # Change the store: refunds, a cancellation, a skip tag, a deletion and a merge.
    snapshot = control.snapshot()
    partial, full, cancelled, tagged = pick_orders(snapshot, 4)
    control.refund_order(partial["id"], line_items=[(partial["line_items"][0]["id"], 1)])
    control.refund_order(full["id"])
    control.cancel_order(cancelled["id"])
    control.update_order(tagged["id"], tags=["skip_loyalty"])
    control.delete_customer(lonely)
    owners = sorted({o["customer_id"] for o in snapshot["orders"] if o["customer_id"]})
    keep, remove = owners[0], owners[1]
    control.merge_customers(keep, remove)
    control.advance_time(120)

    state = sync(tmp_path, server, url, state)
    after = control.snapshot()
    assert actual_balances(url, shop) == expected_balances(after)
    statuses = dict(
        query(
            url, "SELECT customer_id, status FROM loyalty_accounts WHERE shop_domain = :s", s=shop
        )
    )
    assert statuses[lonely] == "deleted"
    assert statuses[remove] == "merged"
    assert [
        r[0]
        for r in query(url, "SELECT count(*) FROM loyalty_ledger WHERE customer_id = :c", c=remove)
    ] == [0]
    signups = query(
        url,
        "SELECT count(*) FROM loyalty_ledger WHERE customer_id = :c AND kind = 'signup_bonus'",
        c=keep,
    )
    assert signups[0][0] == 1  # the merged customer's signup bonus was not duplicated
    reversed_ = {
        source
        for _c, source, kind, _p, _cash in ledger(url, shop)
        if kind in {"refund_reversal", "cancellation_reversal"}
    }
    assert f"order:{cancelled['id']}" in reversed_

    # The same run again, from the state it left, adds nothing.
    settled = ledger(url, shop)
    sync(tmp_path, server, url, state)
    assert ledger(url, shop) == settled
    report = subprocess.run(
        [str(BIN / "target-loyalty"), "report", "--database-url", url, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    runs = json.loads(report.stdout)["runs"]
    assert len(runs) == 4
    assert all(run["status"] == "succeeded" for run in runs)
