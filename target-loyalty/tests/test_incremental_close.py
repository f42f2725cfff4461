"""A close recomputes only what changed, and ends where a full recompute ends.

Several runs on one store (SQLite and PostgreSQL): a backfill, tier moves, a refund, an
order changing owner, a merge and a soft deletion through a complete roster, then a run
whose clock moved a year and a season (orders leave the rolling period, lots expire, the
deleted account is purged) while bringing one unrelated order. After every run the full
recompute (``target-loyalty recompute``) must change nothing, and the close must have read
only the customers it had to.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loyalty_records import (
    SHOP,
    Messages,
    at,
    customer,
    ledger,
    manifest_for,
    order,
    query,
    refund,
    run_target,
)
from target_loyalty.recompute import main as recompute_main

TIERS = [
    {"name": "Bronze", "entry_threshold": "0", "cashback_percent": "1"},
    {"name": "Silver", "entry_threshold": "100", "retain_threshold": "80", "cashback_percent": "2"},
    {"name": "Gold", "entry_threshold": "250", "retain_threshold": "200", "cashback_percent": "5"},
]
CLOSE_LINE = re.compile(r"recomputed ([\d,]+) customers of (\S+) \((\w+)")


def _config(url: str, as_of: str, **extra: Any) -> dict[str, Any]:
    config = {
        "database_url": url,
        "signup_bonus_points": 10,
        "signup_bonus_existing_customers": True,
        "tiers": TIERS,
        "tier_evaluation_period": "rolling_12_months",
        "points_expiry_days": 300,
        "deleted_customer_retention_days": 90,
        "max_roster_deletion_share": 1,
        "as_of": as_of,
    }
    config.update(extra)
    return config


def _accounts(url: str) -> list[tuple[Any, ...]]:
    rows = query(
        url,
        "SELECT customer_id, status, merged_into, tier, net_spend, points_balance, "
        "cashback_balance FROM loyalty_accounts WHERE shop_domain = :s ORDER BY customer_id",
        s=SHOP,
    )
    money = lambda v: None if v is None else Decimal(str(v)).normalize()  # noqa: E731
    return [(r[0], r[1], r[2], r[3], money(r[4]), r[5], money(r[6])) for r in rows]


def _books(url: str) -> tuple[list[Any], list[Any]]:
    return ledger(url), _accounts(url)


def _run(url: str, messages: Messages, as_of: str, caplog: Any, **extra: Any) -> tuple[int, str]:
    """One sync; returns how many customers its close read, and how (incremental or full)."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_target(_config(url, as_of, **extra), manifest_for(messages))
    found = [CLOSE_LINE.search(r.getMessage()) for r in caplog.records]
    match = next(m for m in found if m)
    return int(match.group(1).replace(",", "")), match.group(3)


def _full_recompute_changes_nothing(url: str, tmp_path: Path, as_of: str, **extra: Any) -> None:
    before = _books(url)
    path = tmp_path / "target.json"
    path.write_text(json.dumps(_config(url, as_of, **extra)))
    assert recompute_main(["--config", str(path), "--shop", SHOP]) == 0
    assert _books(url) == before


def _backfill() -> Messages:
    m = Messages()
    # Customers 3 and 4 join late: the clock's move below reaches neither their orders
    # nor their lots, so the close must not read them.
    late = at(20, 5)
    m.records(
        "customers", *(customer(c, created=late if c in {3, 4} else None) for c in range(1, 8))
    )
    m.records(
        "orders",
        order(101, 1, "90.00", created=at(1, 1)),
        order(102, 1, "60.00", created=at(1, 2)),
        order(103, 1, "150.00", created=at(1, 3)),
        order(201, 2, "120.00", created=at(1, 2)),
        order(301, 3, "40.00", created=at(21, 5)),
        order(401, 4, "70.00", created=at(21, 5)),
        order(501, 5, "110.00", created=at(1, 4)),
        order(601, 6, "30.00", created=at(1, 5)),
        order(701, 7, "20.00", created=at(1, 5)),
    )
    return m


@pytest.mark.parametrize("period", ["rolling_12_months", "calendar_year"])
def test_incremental_closes_equal_a_full_recompute(database_url, tmp_path, caplog, period):
    url = database_url
    read, how = _run(
        url, _backfill(), "2024-06-01T00:00:00Z", caplog, tier_evaluation_period=period
    )
    assert (read, how) == (7, "full")  # the shop's first close reads everyone
    _full_recompute_changes_nothing(
        url, tmp_path, "2024-06-01T00:00:00Z", tier_evaluation_period=period
    )

    # Tier move (customer 2 reaches Gold), a refund (customer 1), an order moving from
    # customer 3 to customer 4; the clock moves a day.
    changes = Messages().records(
        "orders",
        order(202, 2, "200.00", created=at(1, 6)),
        order(
            103,
            1,
            "150.00",
            created=at(1, 3),
            updated=at(3, 6),
            refunds=[refund(9103, "100.00", created=at(3, 6))],
        ),
        order(301, 4, "40.00", created=at(21, 5), updated=at(3, 6)),
    )
    read, how = _run(url, changes, "2024-06-02T00:00:00Z", caplog, tier_evaluation_period=period)
    assert how == "incremental"
    assert read == 4  # customers 1, 2, 3 and 4 only
    _full_recompute_changes_nothing(
        url, tmp_path, "2024-06-02T00:00:00Z", tier_evaluation_period=period
    )

    # A merge (customer 5's order now belongs to 6, and 5 leaves the roster) and a soft
    # deletion (7 leaves the roster).
    merge = Messages().records(
        "orders", order(501, 6, "110.00", created=at(1, 4), updated=at(4, 6))
    )
    merge.roster(1, 1, 2, 3, 4, 6)
    read, how = _run(url, merge, "2024-06-03T00:00:00Z", caplog, tier_evaluation_period=period)
    assert how == "incremental"
    assert read == 3  # 5 and 6 (the order, the merge) and 7 (the deletion)
    statuses = {row[0]: row[1] for row in _accounts(url)}
    assert (statuses[5], statuses[7]) == ("merged", "deleted")
    _full_recompute_changes_nothing(
        url, tmp_path, "2024-06-03T00:00:00Z", tier_evaluation_period=period
    )

    # The clock moves past a year boundary and the rolling period: early orders leave the
    # period, the first lots expire, the deleted and merged accounts are purged; the run
    # itself brings one new order of customer 6.
    tiers_before = {row[0]: row[3] for row in _accounts(url)}
    late = Messages().records("orders", order(602, 6, "10.00", created=at(1, 2, 2025)))
    read, how = _run(url, late, "2025-02-15T00:00:00Z", caplog, tier_evaluation_period=period)
    accounts = _accounts(url)
    tiers_after = {row[0]: row[3] for row in accounts}
    if period == "calendar_year":
        assert how == "full"  # a new calendar year changes every customer's period
    else:
        assert how == "incremental"
        assert read <= 5  # never 3 or 4
    assert {5, 7}.isdisjoint(tiers_after)  # purged
    assert any(tiers_before[c] != tiers_after[c] for c in tiers_after if c != 6)  # by the clock
    assert any(kind == "expiry" for _cid, _src, kind, _p, _c in ledger(url))
    _full_recompute_changes_nothing(
        url, tmp_path, "2025-02-15T00:00:00Z", tier_evaluation_period=period
    )

    # A replay of a run already applied changes nothing and reads only its customer.
    read, how = _run(url, late, "2025-02-15T00:00:00Z", caplog, tier_evaluation_period=period)
    assert (read, how) == (1, "incremental")
    assert _accounts(url) == accounts


def test_changed_rules_are_recomputed_in_full(database_url, tmp_path, caplog):
    url = database_url
    _run(url, _backfill(), "2024-06-01T00:00:00Z", caplog)
    assert {row[0]: row[3] for row in _accounts(url)}[1] == "Gold"
    cheaper = [dict(t, entry_threshold="0", retain_threshold="0") for t in TIERS[:1]] + [
        {"name": "Platinum", "entry_threshold": "50", "cashback_percent": "10"}
    ]
    # The command applies the new rules at once.
    path = tmp_path / "target.json"
    path.write_text(json.dumps(_config(url, "2024-06-01T00:00:00Z", tiers=cheaper)))
    assert recompute_main(["--config", str(path)]) == 0
    tiers = {row[0]: row[3] for row in _accounts(url)}
    assert tiers[1] == "Platinum"
    assert tiers[7] == "Bronze"  # 20.00 of spend: under Platinum's entry
    # A sync under rules other than the last close's recomputes everyone by itself.
    replay = Messages().records("orders", order(701, 7, "20.00", created=at(1, 5)))
    read, how = _run(url, replay, "2024-06-01T00:00:00Z", caplog)
    assert (read, how) == (7, "full")
    assert {row[0]: row[3] for row in _accounts(url)}[1] == "Gold"
    _full_recompute_changes_nothing(url, tmp_path, "2024-06-01T00:00:00Z")
