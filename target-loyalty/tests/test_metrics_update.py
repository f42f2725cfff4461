"""The close's driver-level metrics update stores what SQLAlchemy Core's UPDATE stored.

The close stores every recomputed account's metrics with one driver executemany (no
per-row SQLAlchemy bind processing); this pins that the bytes stored stay the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from target_loyalty import bulk, storage
from target_loyalty import schema as s

SHOP = "driver.myshopify.com"


def test_metrics_update_stores_the_bytes_sqlalchemy_stored(database_url):
    engine = storage.create_engine(database_url)
    a = s.accounts
    now = datetime(2024, 12, 31, tzinfo=UTC)
    values = {
        "tier": "Gold",
        "net_spend": Decimal("1234.50"),
        "points_balance": 420,
        "cashback_balance": Decimal("12.3400"),
        "metrics_at": now,
    }
    with engine.begin() as conn:
        storage.ensure_accounts(conn, SHOP, [1, 2, 3])
        conn.execute(
            sa.update(a).where(a.c.shop_domain == SHOP, a.c.customer_id == 1).values(**values)
        )
        bulk.update(
            conn,
            a,
            [{"shop_domain": SHOP, "customer_id": 2, **values}],
            key=("shop_domain", "customer_id"),
        )
        stored = {
            row[0]: row[1:]
            for row in conn.exec_driver_sql(
                "SELECT customer_id, tier, net_spend, points_balance, cashback_balance, "
                "metrics_at FROM loyalty_accounts"
            )
        }
    assert stored[2] == stored[1]
    if engine.dialect.name == "sqlite":  # SQLAlchemy's text, not the driver's
        assert stored[2][4] == "2024-12-31 00:00:00.000000"
    engine.dispose()
    assert stored[3][0] is None  # only the matching key was updated
