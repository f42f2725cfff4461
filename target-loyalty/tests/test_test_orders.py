"""include_test_orders: test orders never earn, never count toward tiers or cashback."""

from __future__ import annotations

from decimal import Decimal

from loyalty_records import Messages, customer, ledger, order, query, run_target

TIERS = [
    {"name": "Bronze", "entry_threshold": "0", "cashback_percent": "1"},
    {"name": "Gold", "entry_threshold": "50", "cashback_percent": "5"},
]


def config(url: str) -> dict[str, object]:
    return {
        "database_url": url,
        "tiers": TIERS,
        "tier_evaluation_period": "lifetime",
        "as_of": "2024-06-01T00:00:00Z",
    }


def test_a_customer_whose_only_orders_are_test_orders_closes_the_run(database_url):
    messages = (
        Messages()
        .records("customers", customer(1), customer(2))
        .records(
            "orders",
            order(101, 1, "500.00", test=True),
            order(102, 1, "300.00", test=True),
            order(103, 2, "20.00"),
            order(104, 2, "900.00", test=True),
        )
    )
    run_target(config(database_url), messages)
    assert ledger(database_url) == [
        (2, "order:103", "cashback", 0, Decimal("0.2")),
        (2, "order:103", "earn", 20, Decimal("0")),
    ]
    rows = query(
        database_url,
        "SELECT customer_id, tier, points_balance, net_spend, cashback_balance "
        "FROM loyalty_accounts ORDER BY customer_id",
    )
    assert [(r[0], r[1], int(r[2]), Decimal(str(r[3])), Decimal(str(r[4]))) for r in rows] == [
        (1, "Bronze", 0, Decimal(0), Decimal(0)),
        (2, "Bronze", 20, Decimal("20.00"), Decimal("0.20")),
    ]
    [status] = query(database_url, "SELECT status FROM loyalty_sync_runs")
    assert status[0] != "failed"


def test_skip_tags_match_whatever_the_case(database_url):
    messages = (
        Messages()
        .records("customers", customer(1))
        .records(
            "orders",
            order(101, 1, "30.00", tags=["Skip_Loyalty"]),
            order(102, 1, "40.00", tags=["SKIP_LOYALTY", "vip"]),
            order(103, 1, "10.00", tags=["vip"]),
        )
    )
    run_target({**config(database_url), "skip_tags": ["skip_loyalty"]}, messages)
    assert [(s, p) for _c, s, k, p, _cash in ledger(database_url) if k == "earn"] == [
        ("order:103", 10)
    ]
