"""The retention purge (README, "deletions"): which accounts lose their data, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from target_loyalty.domain.lifecycle import RetainedAccount, account_purge_due

NOW = datetime(2025, 6, 1, tzinfo=UTC)
RETENTION = 90


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("account", "due"),
    [
        (RetainedAccount("deleted", ago(RETENTION)), True),
        (RetainedAccount("deleted", ago(RETENTION + 30)), True),
        (RetainedAccount("deleted", ago(RETENTION) + timedelta(seconds=1)), False),
        (RetainedAccount("deleted", ago(10)), False),
        (RetainedAccount("merged", ago(RETENTION)), True),
        (RetainedAccount("merged", ago(10)), False),
        (RetainedAccount("active", ago(RETENTION + 30)), False),
        (RetainedAccount("deleted", None), False),
    ],
    ids=[
        "deleted exactly the retention ago: purged",
        "deleted longer ago: purged",
        "one second short of the retention: kept",
        "deleted recently: kept",
        "merged away the retention ago: purged",
        "merged away recently: kept",
        "an active account is never purged",
        "deleted with no date: kept",
    ],
)
def test_account_purge_due(account, due):
    assert account_purge_due(account, NOW, RETENTION) is due
