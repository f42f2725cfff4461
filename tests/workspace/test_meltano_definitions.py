"""meltano.yml and the Hub definitions declare exactly what each plugin says about itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_plugin_definitions_match_the_plugins() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_plugin_settings.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_are_sensitive_and_destinations_swap_by_name() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = project["plugins"]["extractors"][0]
    settings = {s["name"]: s for s in extractor["settings"]}
    assert settings["access_token"].get("sensitive") is True
    assert all("description" in s and "kind" in s and "label" in s for s in settings.values())
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    assert {"target-loyalty", "target-crm", "target-loyalty-postgres", "target-crm-postgres"} <= (
        set(loaders)
    )
    assert loaders["target-loyalty-postgres"]["inherit_from"] == "target-loyalty"
    jobs = {job["name"] for job in project["jobs"]}
    assert {"loyalty-sync", "crm-sync", "roster-reconciliation"} <= jobs
    assert {s["name"] for s in project["schedules"]} >= {"loyalty-hourly", "roster-daily"}
