"""Points, tier spend and cashback follow the financial status, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from loyalty_records import Messages, at, customer, ledger, order, query, run_target

TIERS = [
    {"name": "Bronze", "entry_threshold": "0", "cashback_percent": "1"},
    {"name": "Gold", "entry_threshold": "150", "cashback_percent": "5"},
]


def config(url: str, **extra: object) -> dict[str, object]:
    base = {
        "database_url": url,
        "tiers": TIERS,
        "tier_evaluation_period": "lifetime",
        "as_of": "2024-06-01T00:00:00Z",
    }
    base.update(extra)
    return base


def paid(oid: int, cid: int, subtotal: str, status: str, day: int, **extra: object) -> dict:
    record = order(oid, cid, subtotal, created=at(1), updated=at(day), **extra)
    record["financial_status"] = status
    return record


def accounts(url: str) -> list[tuple]:
    rows = query(
        url,
        "SELECT customer_id, tier, points_balance, net_spend, cashback_balance "
        "FROM loyalty_accounts ORDER BY customer_id",
    )
    return [(r[0], r[1], int(r[2]), Decimal(str(r[3])), Decimal(str(r[4]))) for r in rows]


def test_a_pending_order_earns_once_a_later_sync_sees_it_paid(database_url):
    run_target(
        config(database_url),
        Messages()
        .records("customers", customer(1), customer(2))
        .records(
            "orders",
            paid(101, 1, "200.00", "PENDING", 2),
            paid(102, 2, "50.00", "VOIDED", 2),
            paid(103, 2, "30.00", "AUTHORIZED", 2),
        ),
    )
    assert ledger(database_url) == []
    assert accounts(database_url) == [
        (1, "Bronze", 0, Decimal(0), Decimal(0)),
        (2, "Bronze", 0, Decimal(0), Decimal(0)),
    ]
    run_target(
        config(database_url),
        Messages().records(
            "orders", paid(101, 1, "200.00", "PAID", 3), paid(102, 2, "50.00", "EXPIRED", 3)
        ),
    )
    # Order 101 now earns, counts as spend (Gold needs 150 before the order: Bronze 1%).
    assert ledger(database_url) == [
        (1, "order:101", "cashback", 0, Decimal("2")),
        (1, "order:101", "earn", 200, Decimal("0")),
    ]
    assert accounts(database_url) == [
        (1, "Gold", 200, Decimal("200.00"), Decimal("2.00")),
        (2, "Bronze", 0, Decimal(0), Decimal(0)),
    ]


def test_an_order_leaving_the_paid_statuses_is_reversed(database_url):
    run_target(
        config(database_url),
        Messages()
        .records("customers", customer(1))
        .records("orders", paid(101, 1, "100.00", "PAID", 2), paid(102, 1, "80.00", "PAID", 2)),
    )
    assert accounts(database_url) == [(1, "Gold", 180, Decimal("180.00"), Decimal("1.80"))]
    run_target(
        config(database_url), Messages().records("orders", paid(102, 1, "80.00", "VOIDED", 3))
    )
    assert ledger(database_url) == [
        (1, "order:101", "cashback", 0, Decimal("1")),
        (1, "order:101", "earn", 100, Decimal("0")),
        (1, "order:102", "cashback", 0, Decimal("0.8")),
        (1, "order:102", "earn", 80, Decimal("0")),
        (1, "order:102#1", "cashback", 0, Decimal("-0.8")),
        (1, "order:102@1", "adjustment", -80, Decimal("0")),
    ]
    assert accounts(database_url) == [(1, "Bronze", 100, Decimal("100.00"), Decimal("1.00"))]
    notes = query(
        database_url,
        "SELECT record_key, field FROM loyalty_discrepancies WHERE field = 'financial_status'",
    )
    assert [tuple(n) for n in notes] == [("orders:102", "financial_status")]


def test_paid_financial_statuses_is_a_setting(database_url):
    run_target(
        config(database_url, paid_financial_statuses=["PAID", "AUTHORIZED"]),
        Messages()
        .records("customers", customer(1))
        .records(
            "orders", paid(101, 1, "40.00", "AUTHORIZED", 2), paid(102, 1, "10.00", "REFUNDED", 2)
        ),
    )
    assert [(s, k, p) for _c, s, k, p, _cash in ledger(database_url) if k == "earn"] == [
        ("order:101", "earn", 40)
    ]
