"""Set-based writes through the driver's executemany.

SQLAlchemy Core's per-row parameter processing costs more than the database work for
large batches, so hot writes bind plain tuples here, converted once per column, with the
same ON CONFLICT statements on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_loyalty import schema as s

Convert = Callable[[Any], Any]

#: From this many rows, PostgreSQL writes go through COPY and a staging table.
COPY_THRESHOLD = 50
_STAGES = itertools.count()


def _same(value: Any) -> Any:
    return value


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the parser already hands out UTC; others convert
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _sqlalchemy_sqlite_datetime(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format (microseconds always written).
    naive = _naive_utc(value)
    if naive is None:
        return None
    return (
        f"{naive.year:04d}-{naive.month:02d}-{naive.day:02d} "
        f"{naive.hour:02d}:{naive.minute:02d}:{naive.second:02d}.{naive.microsecond:06d}"
    )


def _converter(column: sa.Column[Any], dialect: str, *, sqlalchemy_text: bool = False) -> Convert:
    if isinstance(column.type, s.UTCDateTime):
        if sqlalchemy_text and dialect == "sqlite":
            return _sqlalchemy_sqlite_datetime
        return _naive_utc
    if isinstance(column.type, s.Money) and dialect == "sqlite":
        return _text  # exact decimal text; SQLite's NUMERIC would go through float
    return _same


def write(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    extra_set: str = "",
) -> None:
    """INSERT rows; on a ``conflict`` key do nothing, or update ``update`` columns.

    Args:
        conn: Connection inside the batch's transaction.
        table: Target table.
        rows: Rows with identical keys.
        conflict: Unique key columns for ON CONFLICT.
        update: Columns taken from the new row on conflict (none: DO NOTHING).
        extra_set: Extra raw ``SET`` assignments appended on update.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect.name
    on_conflict = ""
    if conflict:
        sets = [f"{c} = excluded.{c}" for c in update]
        if extra_set:
            sets.append(extra_set)
        action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
        on_conflict = f" ON CONFLICT ({', '.join(conflict)}) {action}"
    params = _params(table, columns, rows, dialect)
    if dialect == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _stage_and_upsert(conn, table, columns, params, on_conflict)
        return
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)}){on_conflict}"
    )
    conn.exec_driver_sql(sql, params)


def _params(
    table: sa.Table,
    columns: list[str],
    rows: Sequence[Mapping[str, Any]],
    dialect: str,
    *,
    sqlalchemy_text: bool = False,
) -> list[tuple[Any, ...]]:
    # Convert only the columns that need it; the rest pass through untouched.
    converting = [
        (i, convert)
        for i, convert in enumerate(
            _converter(table.c[c], dialect, sqlalchemy_text=sqlalchemy_text) for c in columns
        )
        if convert is not _same
    ]
    params = []
    for row in rows:
        values = [row[c] for c in columns]
        for i, convert in converting:
            values[i] = convert(values[i])
        params.append(tuple(values))
    return params


def update(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
) -> None:
    """UPDATE each row's other columns where its ``key`` columns match: one executemany.

    Values are stored exactly as SQLAlchemy's own UPDATE stored them (on SQLite, datetimes
    as SQLAlchemy's text with microseconds, not the driver's), so switching a hot update to
    this path leaves the stored data byte for byte the same.

    Args:
        conn: Connection inside the caller's transaction.
        table: Target table.
        rows: Rows with identical keys, each holding the ``key`` columns.
        key: The columns matched in the WHERE clause.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    columns = [c for c in rows[0] if c not in key]
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{c} = {mark}' for c in columns)} "
        f"WHERE {' AND '.join(f'{c} = {mark}' for c in key)}"
    )
    conn.exec_driver_sql(sql, _params(table, [*columns, *key], rows, dialect, sqlalchemy_text=True))


def _stage_and_upsert(
    conn: Connection,
    table: sa.Table,
    columns: list[str],
    params: list[tuple[Any, ...]],
    on_conflict: str,
) -> None:
    """PostgreSQL: COPY into a temporary stage, then one INSERT ... SELECT (as
    target-postgres does); dropped at commit, so a batch is still one transaction."""
    stage = f"stage_{table.name}_{next(_STAGES)}"
    cols = ", ".join(columns)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {table.name} WITH NO DATA"
        )
        with cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for values in params:
                copy.write_row(values)
        cursor.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage}{on_conflict}")
    finally:
        cursor.close()
