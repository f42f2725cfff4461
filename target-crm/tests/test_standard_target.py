"""singer-sdk's standard target tests, on SQLite and PostgreSQL (the testkit's database_url)."""

from __future__ import annotations

from pathlib import Path

import pytest
import singer_sdk.testing
import sqlalchemy as sa
from crm_records import run_target
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_crm.target import TargetCRM

STREAMS = Path(singer_sdk.testing.__file__).parent / "target_test_streams"
_StandardTests = get_target_test_class(TargetCRM, config={"database_url": "sqlite://"})


class TestTargetCRMStandard(_StandardTests):  # type: ignore[misc, valid-type]
    """The SDK's suite; each test gets a fresh store on each backend."""

    @pytest.fixture
    def runner(self, database_url: str) -> TargetTestRunner:
        return TargetTestRunner(target_class=TargetCRM, config={"database_url": database_url})

    @pytest.mark.skip(
        reason="expects STATE only at singer-sdk's drain points; target-crm emits every STATE "
        "as soon as what precedes it is committed (tested in test_sync_safety.py)"
    )
    def test_target_multiple_state_messages(self) -> None:
        """Skipped: see reason."""

    # Two SDK tests expect the first bad line to stop the run; target-crm's reader
    # dead-letters it and goes on (issue 11), so they check that behaviour instead.

    def test_target_record_before_schema(self, database_url: str) -> None:
        """The RECORD before its SCHEMA is a dead letter; the run ends incomplete, not dead."""
        text = (STREAMS / "record_before_schema.singer").read_text()
        run_target({"database_url": database_url}, text)
        letters = _rows(database_url, "SELECT line_number, reason FROM crm_dead_letters")
        assert [(n, "before its SCHEMA" in r) for n, r in letters] == [(1, True)]

    def test_target_invalid_schema(self, database_url: str) -> None:
        """A SCHEMA without properties is a dead letter naming why; nothing else changes."""
        run_target({"database_url": database_url}, (STREAMS / "invalid_schema.singer").read_text())
        assert _rows(database_url, "SELECT count(*) FROM contacts") == [(0,)]
        assert _rows(database_url, "SELECT status FROM sync_runs") == [("incomplete",)]
        assert _rows(database_url, "SELECT line_number, reason FROM crm_dead_letters") == [
            (1, "SCHEMA for stream 'test_invalid_schema': schema.properties is not an object")
        ]


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    engine.dispose()
    return rows
