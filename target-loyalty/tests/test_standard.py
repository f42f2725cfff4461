"""singer-sdk's standard target tests, on SQLite and on PostgreSQL.

The standard suite sends streams this target does not read (``array_data``,
``camelcase``...). They are not skipped: the target counts every such record as a
discrepancy ("stream not read by target-loyalty"), and the suite checks the Singer
protocol behaviour (STATE relay, schema errors, missing keys) that applies to any target.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import singer_sdk.testing
from loyalty_records import query, run_target
from singer_sdk.testing import get_target_test_class
from target_loyalty.target import TargetLoyalty

STREAMS = Path(singer_sdk.testing.__file__).parent / "target_test_streams"

# The suite builds its runner from this dict when each test starts; the resource
# fixture points it at that test's fresh database first.
SQLITE_CONFIG = {"database_url": "sqlite:///:memory:"}
POSTGRES_CONFIG = {"database_url": "sqlite:///:memory:"}

_SqliteBase = get_target_test_class(TargetLoyalty, config=SQLITE_CONFIG)
_PostgresBase = get_target_test_class(TargetLoyalty, config=POSTGRES_CONFIG)


class _DeadLettersInsteadOfFailing:
    """Two SDK tests expect the first bad line to stop the run; this target's reader
    dead-letters it instead (issue 11) and goes on, so they check that behaviour."""

    def test_target_record_before_schema(self, resource: str) -> None:
        run_target(
            {"database_url": resource}, (STREAMS / "record_before_schema.singer").read_text()
        )
        letters = query(resource, "SELECT line_number, reason FROM loyalty_dead_letters")
        assert [(n, "before its SCHEMA" in r) for n, r in letters] == [(1, True)]
        counts = query(
            resource,
            "SELECT measure, count FROM loyalty_run_counts WHERE measure = 'received'",
        )
        assert [tuple(c) for c in counts] == [("received", 1)]

    def test_target_invalid_schema(self, resource: str) -> None:
        # A SCHEMA without properties is not a usable schema: dead-lettered, not fatal.
        run_target({"database_url": resource}, (STREAMS / "invalid_schema.singer").read_text())
        letters = query(resource, "SELECT line_number, reason FROM loyalty_dead_letters")
        assert [(n, "schema.properties is not an object" in r) for n, r in letters] == [(1, True)]


class TestTargetLoyaltySQLite(_DeadLettersInsteadOfFailing, _SqliteBase):
    """Standard target tests against a fresh SQLite file per test."""

    @pytest.fixture
    def resource(self, sqlite_url: str) -> str:
        SQLITE_CONFIG["database_url"] = sqlite_url
        return sqlite_url


@pytest.mark.postgres
class TestTargetLoyaltyPostgres(_DeadLettersInsteadOfFailing, _PostgresBase):
    """Standard target tests against a fresh PostgreSQL database per test."""

    @pytest.fixture
    def resource(self, postgres_url: str) -> str:
        POSTGRES_CONFIG["database_url"] = postgres_url
        return postgres_url
