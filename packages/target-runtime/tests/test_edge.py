"""The contract's text bound, as a table."""

from __future__ import annotations

import pytest
from target_runtime.edge import TEXT_LIMITS, text_problem


@pytest.mark.parametrize(
    ("value", "limit", "problem"),
    [
        ("a" * 255, 255, None),
        ("a" * 256, 255, "256 characters, more than the 255 allowed"),
        ("nul\x00inside", 255, "contains a NUL character"),
        ("", 0, None),
        ("x" * 5_001, TEXT_LIMITS["note"], "5,001 characters, more than the 5,000 allowed"),
    ],
    ids=["at-the-bound", "one-over", "nul-character", "empty", "note-over-5000"],
)
def test_text_problem(value: str, limit: int, problem: str | None) -> None:
    assert text_problem(value, limit) == problem


def test_display_name_holds_two_full_names() -> None:
    assert text_problem("a" * 255 + " " + "b" * 255, TEXT_LIMITS["display_name"]) is None
