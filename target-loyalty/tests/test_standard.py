"""singer-sdk's standard target tests, on SQLite and on PostgreSQL.

The standard suite sends streams this target does not read (``array_data``,
``camelcase``...). They are not skipped: the target counts every such record as a
discrepancy ("stream not read by target-loyalty"), and the suite checks the Singer
protocol behaviour (STATE relay, schema errors, missing keys) that applies to any target.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_target_test_class
from target_loyalty.target import TargetLoyalty

# The suite builds its runner from this dict when each test starts; the resource
# fixture points it at that test's fresh database first.
SQLITE_CONFIG = {"database_url": "sqlite:///:memory:"}
POSTGRES_CONFIG = {"database_url": "sqlite:///:memory:"}

_SqliteBase = get_target_test_class(TargetLoyalty, config=SQLITE_CONFIG)
_PostgresBase = get_target_test_class(TargetLoyalty, config=POSTGRES_CONFIG)


class TestTargetLoyaltySQLite(_SqliteBase):
    """Standard target tests against a fresh SQLite file per test."""

    @pytest.fixture
    def resource(self, sqlite_url: str) -> str:
        SQLITE_CONFIG["database_url"] = sqlite_url
        return sqlite_url


@pytest.mark.postgres
class TestTargetLoyaltyPostgres(_PostgresBase):
    """Standard target tests against a fresh PostgreSQL database per test."""

    @pytest.fixture
    def resource(self, postgres_url: str) -> str:
        POSTGRES_CONFIG["database_url"] = postgres_url
        return postgres_url
