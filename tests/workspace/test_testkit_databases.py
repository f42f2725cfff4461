"""The testkit's database fixtures give a usable, isolated database on each backend."""

from __future__ import annotations

import sqlalchemy as sa


def test_database_url_is_fresh_and_writable(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        tables = sa.inspect(connection).get_table_names()
        assert tables == []
        connection.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO probe (id) VALUES (1)"))
        assert connection.execute(sa.text("SELECT count(*) FROM probe")).scalar_one() == 1
    engine.dispose()
