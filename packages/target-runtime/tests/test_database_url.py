"""The ``database_url`` rule: only an absent setting falls back to the local default."""

from __future__ import annotations

from typing import Any

import pytest
from target_runtime.database_url import EmptyDatabaseUrlError, database_url_from_config

DEFAULT = "sqlite:///output/target-example.db"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, DEFAULT),
        ({"database_url": "postgresql+psycopg://u@h/db"}, "postgresql+psycopg://u@h/db"),
        ({"database_url": "  sqlite:///x.db\n"}, "sqlite:///x.db"),
        ({"other": ""}, DEFAULT),
    ],
)
def test_the_setting_or_the_default_when_absent(config: dict[str, Any], expected: str) -> None:
    assert database_url_from_config(config, DEFAULT) == expected


@pytest.mark.parametrize("value", ["", "   ", "\t\n", None, 5])
def test_a_present_but_empty_setting_is_an_error(value: object) -> None:
    with pytest.raises(EmptyDatabaseUrlError, match="database_url"):
        database_url_from_config({"database_url": value}, DEFAULT)
    assert issubclass(EmptyDatabaseUrlError, ValueError)
