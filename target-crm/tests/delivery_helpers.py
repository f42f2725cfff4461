"""Configs and read-backs shared by the delivery tests (stand-ins over real HTTP)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def moengage_config(database_url: str, moe: Any, **over: Any) -> dict[str, Any]:
    """target-crm settings delivering to a MoEngage stand-in (fast retries)."""
    return {
        "database_url": database_url,
        "moengage_workspace_id": moe.workspace_id,
        "moengage_api_key": moe.api_key,
        "moengage_api_url": moe.base_url,
        "delivery_backoff_seconds": 0.01,
        "delivery_timeout_seconds": 5,
        **over,
    }


def ometria_config(database_url: str, om: Any, **over: Any) -> dict[str, Any]:
    """target-crm settings delivering to an Ometria stand-in (fast retries)."""
    return {
        "database_url": database_url,
        "ometria_api_key": om.api_key,
        "ometria_api_url": om.base_url,
        "ometria_collection": "shopify-test",
        "ometria_feedback_wait_seconds": 0.4,
        "delivery_backoff_seconds": 0.01,
        "delivery_timeout_seconds": 5,
        **over,
    }


def outbox(database_url: str, destination: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(entity, key) -> (status, last_error) of a destination's outbox."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT entity, entity_key, status, last_error FROM outbox WHERE destination = :d"
            ),
            {"d": destination},
        ).all()
    engine.dispose()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def store_ids(database_url: str) -> tuple[set[str], set[int]]:
    """Every event id and every active contact's Shopify id in the store."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        events = set(conn.scalars(sa.text("SELECT event_id FROM events")))
        contacts = set(
            conn.scalars(sa.text("SELECT customer_id FROM contacts WHERE status = 'active'"))
        )
    engine.dispose()
    return events, contacts


def requests_log(database_url: str, destination: str) -> list[Any]:
    """The engine's request log of a destination, oldest first."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT request_id, status, attempts, items, bytes, lost_answers, run_id "
                "FROM delivery_requests WHERE destination = :d ORDER BY started_at, request_id"
            ),
            {"d": destination},
        ).all()
    engine.dispose()
    return list(rows)
