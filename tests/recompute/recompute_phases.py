"""One phase of the property test: feed a tap run to both targets, then compare each
database with the recomputation from the emulator's snapshot taken after the tap read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import recompute_readback as stored
import recompute_rules as rules
from recompute_diff import describe_customer, describe_order, diff_maps, diff_sets
from recompute_pipeline import TapRun, crm_config, loyalty_config, run_targets


@dataclass
class Databases:
    """One loyalty and one CRM database fed the same runs, and what they were fed."""

    loyalty: str
    crm: str
    lineage: rules.Lineage


def feed(workdir: Path, name: str, tap: TapRun, dbs: Databases, as_of: datetime) -> list[str]:
    """Run both targets on the tap's output; a non-zero exit or a run not `succeeded` is a
    problem (the data they committed is still compared)."""
    configs = {
        "target-loyalty": loyalty_config(dbs.loyalty, as_of.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "target-crm": crm_config(dbs.crm),
    }
    problems = []
    for run in run_targets(workdir, tap.output, configs, name):
        if run.returncode != 0:
            problems.append(f"{run.name} exited {run.returncode}: {run.stderr[-600:]!r}")
    return problems


def check_run_status(dbs: Databases, shop: str) -> list[str]:
    """Both latest runs recorded as `succeeded` (target READMEs, "Run outcomes")."""
    problems = []
    loyalty = stored.latest_run_status(dbs.loyalty, "loyalty_sync_runs", shop)
    crm = stored.crm_outcome(dbs.crm, shop)
    if loyalty != "succeeded":
        problems.append(f"target-loyalty latest run status: expected succeeded, actual {loyalty}")
    if crm != "succeeded":
        problems.append(f"target-crm latest run status: expected succeeded, actual {crm}")
    return problems


def compare_loyalty(dbs: Databases, snapshot: dict[str, Any], as_of: datetime) -> list[str]:
    """Accounts, balances, points per order, tier spend, cashback and pending orders."""
    shop = snapshot["shop_domain"]
    want = rules.loyalty_books(snapshot, dbs.lineage, as_of)
    got = stored.loyalty_books(dbs.loyalty, shop, snapshot)
    cust = lambda cid: describe_customer(snapshot, cid)  # noqa: E731
    order = lambda oid: describe_order(snapshot, oid)  # noqa: E731
    return [
        *diff_maps("loyalty account status", want.statuses, got.statuses, cust),
        *diff_maps("loyalty merged_into", want.merged_into, got.merged_into, cust),
        *diff_maps("loyalty balance (sum of ledger points)", want.balances, got.balances, cust),
        *diff_maps("loyalty points of order (customer, points)", want.order_points,
                   got.order_points, order),
        *diff_maps("loyalty tier net_spend", want.net_spend, got.net_spend, cust),
        *diff_maps("loyalty cashback of order", want.cashback, got.cashback, order),
        *diff_sets("loyalty pending (awaiting payment) orders", want.pending, got.pending, order),
    ]  # fmt: skip


def compare_crm(dbs: Databases, snapshot: dict[str, Any]) -> list[str]:
    """Contacts, order count and lifetime value, Order Placed events, duplicates."""
    shop = snapshot["shop_domain"]
    want = rules.crm_store(snapshot, dbs.lineage)
    got = stored.crm_store(dbs.crm, shop)
    cust = lambda cid: describe_customer(snapshot, cid)  # noqa: E731
    event = lambda eid: describe_order(snapshot, int(eid.rsplit(":", 1)[1]))  # noqa: E731
    problems = [
        *diff_maps("crm contact status", want.statuses, got.statuses, cust),
        *diff_maps("crm merged_into", want.merged_into, got.merged_into, cust),
        *diff_maps("crm order_count", want.order_count, got.order_count, cust),
        *diff_maps("crm lifetime_value", want.lifetime_value, got.lifetime_value, cust),
        *diff_maps("crm Order Placed (contact, occurred_at, triggers_automations)",
                   want.placed, got.placed, event),
        *diff_sets("crm duplicates (low id, high id, rule)", want.duplicates, got.duplicates),
    ]  # fmt: skip
    cutover = stored.crm_cutover(dbs.crm, shop)
    if cutover != dbs.lineage.cutover:
        problems.append(f"crm cut-over: expected {dbs.lineage.cutover}, actual {cutover}")
    return problems


def settle(dbs: Databases, snapshot: dict[str, Any]) -> None:
    """Remember what these databases now know, for the next phase's expectations."""
    lineage = dbs.lineage
    lineage.known_customers |= {c["id"] for c in snapshot["customers"]}
    lineage.known_contacts |= rules.contact_ids(snapshot)
    lineage.duplicates |= rules.duplicate_pairs(snapshot)
