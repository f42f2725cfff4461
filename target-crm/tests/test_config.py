"""Configuration errors are clear: an empty database_url never falls back to a local file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crm_records import Feed, customer, run_target
from target_crm.exceptions import CrmConfigError
from target_crm.target import database_url

TARGET = str(Path(sys.executable).parent / "target-crm")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "sqlite:///output/target-crm.db"),
        ({"database_url": "sqlite:///x.db"}, "sqlite:///x.db"),
        ({"database_url": "  sqlite:///x.db "}, "sqlite:///x.db"),
    ],
    ids=["absent-uses-default", "given", "trimmed"],
)
def test_database_url(config, expected):
    assert database_url(config) == expected


@pytest.mark.parametrize("value", ["", "   ", None], ids=["empty", "blank", "null"])
def test_an_empty_database_url_is_a_configuration_error(value):
    with pytest.raises(CrmConfigError, match=r"database_url is set but empty.*CRM_DATABASE_URL"):
        database_url({"database_url": value})


def test_the_target_refuses_to_start_on_an_empty_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database_url": " "}))
    done = subprocess.run(
        [TARGET, "--config", str(config)],
        input=Feed().customers(customer(1)).text(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "database_url is set but empty" in done.stderr
    assert "CRM_DATABASE_URL" in done.stderr
    assert not (tmp_path / "output").exists()  # no silent local store


def test_an_absent_url_uses_the_local_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_target({}, Feed().customers(customer(1)))
    assert (tmp_path / "output" / "target-crm.db").exists()
