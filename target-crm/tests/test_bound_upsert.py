"""SQLite upserts bound by the statement's own types store exactly what SQLAlchemy stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from target_crm import schema as t
from target_crm.storage import _binds_itself, create_store, upsert


def _order_row(order_id: int, **changes):
    row = {
        "shop_domain": "demo-store.myshopify.com",
        "order_id": order_id,
        "name": f"#{order_id}",
        "customer_id": 7 if order_id % 2 else None,
        "contact_customer_id": 7 if order_id % 2 else None,
        "previous_customer_id": None,
        "created_at": datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "updated_at": datetime(2024, 3, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        "cancelled": order_id % 3 == 0,
        "refund_ids": [order_id, 5] if order_id % 2 else [],
        "fingerprint": "f" * 32,
        "counts_as_order": True,
        "net_value": Decimal("100.50"),
        "total_price": Decimal("120.5000"),
        "total_refunded": Decimal("0"),
        "currency_code": "EUR",
        "financial_status": None,
    }
    return {**row, **changes}


def _raw(engine, table):
    # The stored text itself: no result processing.
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"select * from {table} order by 1, 2").all()


@pytest.mark.parametrize("update", [True, False], ids=["do-update", "do-nothing"])
def test_bound_rows_store_what_sqlalchemy_stores(tmp_path, update):
    first = [_order_row(i) for i in range(1, 6)]
    second = [_order_row(i, name="again", net_value=Decimal("1.1")) for i in range(3, 9)]
    names = [c for c in t.orders.c.keys() if c not in {"shop_domain", "order_id"}]  # noqa: SIM118
    stored = []
    for bound in (True, False):
        engine = create_store(f"sqlite:///{tmp_path}/{bound}.db")
        with engine.begin() as conn:
            for rows in (first, second):
                if bound:
                    upsert(conn, t.orders, rows, update=names if update else None)
                else:
                    # SQLAlchemy's own executemany of the same statement.
                    stmt = sa.dialects.sqlite.insert(t.orders)
                    keys = ["shop_domain", "order_id"]
                    stmt = (
                        stmt.on_conflict_do_update(
                            index_elements=keys, set_={n: stmt.excluded[n] for n in names}
                        )
                        if update
                        else stmt.on_conflict_do_nothing(index_elements=keys)
                    )
                    conn.execute(stmt, rows)
        stored.append(_raw(engine, "orders"))
        engine.dispose()
    assert stored[0] == stored[1]
    assert len(stored[0]) == 8
    assert {row[2] for row in stored[0]} == (
        {"again", "#1", "#2"} if update else {"#1", "#2", "#3", "#4", "#5", "again"}
    )


def test_a_left_out_column_with_a_default_goes_through_sqlalchemy():
    row = {c.name: None for c in t.delivery_requests.c if c.name != "lost_answers"}
    assert not _binds_itself(t.delivery_requests, row)
    assert _binds_itself(t.delivery_requests, {**row, "lost_answers": 0})
    assert _binds_itself(t.orders, _order_row(1))
