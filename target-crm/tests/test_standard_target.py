"""singer-sdk's standard target tests, on SQLite and PostgreSQL (the testkit's database_url)."""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from target_crm.target import TargetCRM

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
