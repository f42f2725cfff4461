"""An empty database_url is a configuration error; only an absent one uses the default."""

from __future__ import annotations

import json

import pytest
from loyalty_records import Messages, customer, query, run_cli, run_target
from target_loyalty.exceptions import InvalidConfigError
from target_loyalty.settings import database_url_from_config


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "sqlite:///output/target-loyalty.db"),
        ({"database_url": "sqlite:///books.db"}, "sqlite:///books.db"),
        ({"database_url": " postgresql+psycopg://u@h/db "}, "postgresql+psycopg://u@h/db"),
        ({"database_url": ""}, None),
        ({"database_url": "   "}, None),
        ({"database_url": None}, None),
    ],
    ids=["absent-uses-default", "given", "trimmed", "empty", "blank", "null"],
)
def test_which_database_url_is_used(config, expected):
    if expected is None:
        with pytest.raises(InvalidConfigError, match="LOYALTY_DATABASE_URL") as caught:
            database_url_from_config(config)
        assert "setting database_url is empty" in str(caught.value)
    else:
        assert database_url_from_config(config) == expected


def test_an_empty_database_url_fails_at_start_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"database_url": ""}))
    result = run_cli(path, Messages().records("customers", customer(1)).text())
    assert result.returncode != 0
    assert "setting database_url is empty" in result.stderr
    assert "LOYALTY_DATABASE_URL" in result.stderr
    assert not (tmp_path / "output").exists()


def test_an_absent_database_url_uses_the_default_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_target({}, Messages().records("customers", customer(1)))
    url = f"sqlite:///{tmp_path / 'output' / 'target-loyalty.db'}"
    assert query(url, "SELECT customer_id FROM loyalty_accounts") == [(1,)]
