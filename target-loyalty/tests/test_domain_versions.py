"""Newer wins (README, "versions"): an older version than the stored one changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from target_loyalty.domain.versions import newer_known_version

T1 = datetime(2025, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 2, 1, tzinfo=UTC)
T3 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("incoming", "known", "expected"),
    [
        (T1, (), None),
        (T1, (None,), None),
        (T2, (T1,), None),
        (T2, (T2,), None),
        (T1, (T2,), T2),
        (T2, (None, T3), T3),
        (T2, (T3, T1), T3),
        (T3, (T1, T2), None),
        (T1, (T3, T2), T3),
    ],
    ids=[
        "first version applies",
        "nothing stored applies",
        "newer than stored applies",
        "same version applies again",
        "older than stored is stale",
        "older than the batch's is stale",
        "stale against the newest of stored and batch",
        "newer than both applies",
        "names the newest known version",
    ],
)
def test_newer_version_wins(incoming, known, expected):
    assert newer_known_version(incoming, *known) == expected
