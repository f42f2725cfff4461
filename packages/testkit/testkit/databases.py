"""Creating and dropping throwaway PostgreSQL databases for tests."""

from __future__ import annotations

import uuid

import sqlalchemy as sa


def create_postgres_database(admin_url: str) -> str:
    """Create an empty database with a unique name; returns the name."""
    name = f"testkit_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop a database made by :func:`create_postgres_database`, closing its sessions."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
