"""meltano.yml and the Hub definitions declare exactly what each plugin says about itself.

The drift check is ``scripts/sync_plugin_settings.py --check``. It looks at the project's own
three plugins only: a plugin added the Meltano way (``meltano add loader target-jsonl``, which
also rewrites the file's formatting) is normal use, not drift.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema.validators
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "sync_plugin_settings.py"
# What `meltano add loader target-jsonl` appends (built by hand: the tests use no network).
TARGET_JSONL = {
    "name": "target-jsonl",
    "variant": "andyh1203",
    "pip_url": "target-jsonl",
    "config": {"destination_path": "output"},
}


def _check(meltano_yml: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--meltano-yml", str(meltano_yml)] if meltano_yml else []
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def sync() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("sync_plugin_settings", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def descriptions(sync: ModuleType) -> dict[str, dict[str, Any]]:
    return {name: sync.about(name) for name in sync.PLUGINS}


def _project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def _plugin(project: dict[str, Any], plugin_type: str, name: str) -> dict[str, Any]:
    return next(p for p in project["plugins"][plugin_type] if p["name"] == name)


def test_plugin_definitions_match_the_plugins() -> None:
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_plugin_added_the_meltano_way_is_not_drift(tmp_path: Path) -> None:
    project = _project()
    project["plugins"]["loaders"].append(TARGET_JSONL)
    copy = tmp_path / "meltano.yml"
    # Another writer's formatting (wrapped lines, other indentation), as `meltano add` leaves it.
    copy.write_text(yaml.safe_dump(project, sort_keys=False, width=80, indent=4))
    result = _check(copy)
    assert (result.returncode, result.stdout) == (0, "")
    assert yaml.safe_load(copy.read_text()) == project  # --check writes nothing


@pytest.mark.parametrize(
    ("edit", "drifted"),
    [
        (lambda p: None, []),
        (lambda p: p["plugins"]["loaders"].append(TARGET_JSONL), []),
        (lambda p: p["plugins"]["loaders"].insert(0, TARGET_JSONL), []),
        (lambda p: _plugin(p, "loaders", "target-crm")["settings"].pop(), ["target-crm"]),
        (lambda p: _plugin(p, "loaders", "target-loyalty").pop("capabilities"), ["target-loyalty"]),
        (
            lambda p: _plugin(p, "extractors", "tap-shopify-history")["settings"][0].update(
                kind="integer"
            ),
            ["tap-shopify-history"],
        ),
        (lambda p: _plugin(p, "loaders", "target-loyalty").pop("commands"), ["target-loyalty"]),
        (
            lambda p: _plugin(p, "loaders", "target-crm")["commands"]["report"].update(
                args="report --format json"
            ),
            ["target-crm"],
        ),
        (  # an inherited plugin's config is the user's, not drift
            lambda p: _plugin(p, "loaders", "target-crm-postgres").update(
                settings=[{"name": "extra"}]
            ),
            [],
        ),
    ],
    ids=[
        "as-is",
        "target-jsonl-appended",
        "target-jsonl-first",
        "crm-setting-missing",
        "loyalty-capabilities-missing",
        "tap-setting-kind-changed",
        "loyalty-report-command-missing",
        "crm-report-command-changed",
        "inherited-plugin-extended",
    ],
)
def test_drift_is_judged_on_the_projects_own_plugins(
    sync: ModuleType, descriptions: dict[str, Any], edit: Any, drifted: list[str]
) -> None:
    project = _project()
    edit(project)
    assert sync.meltano_yml_drift(yaml.safe_dump(project, sort_keys=False), descriptions) == (
        drifted
    )


def test_writing_is_idempotent_and_leaves_other_plugins_alone(
    sync: ModuleType, descriptions: dict[str, Any]
) -> None:
    project = _project()
    project["plugins"]["loaders"].append(TARGET_JSONL)
    _plugin(project, "loaders", "target-crm")["settings"] = []
    once = sync.render_meltano_yml(yaml.safe_dump(project, sort_keys=False), descriptions)
    assert sync.render_meltano_yml(once, descriptions) == once
    assert sync.meltano_yml_drift(once, descriptions) == []
    assert _plugin(yaml.safe_load(once), "loaders", "target-jsonl") == TARGET_JSONL


def test_meltano_441_schema_accepts_the_project() -> None:
    """What `meltano compile --lint` checks: meltano.yml against Meltano's own schema."""
    schema_path = ROOT / ".venv" / "lib"
    path = next(schema_path.glob("python3*/site-packages/meltano/schemas/meltano.schema.json"))
    schema = json.loads(path.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(_project())
    ]
    assert errors == []


def test_capabilities_are_what_the_plugins_handle() -> None:
    project = _project()
    tap = _plugin(project, "extractors", "tap-shopify-history")
    assert tap["capabilities"] == [
        "about",
        "activate-version",
        "catalog",
        "discover",
        "schema-flattening",
        "state",
        "stream-maps",
        "structured-logging",
    ]
    for name in ("target-loyalty", "target-crm"):
        loader = _plugin(project, "loaders", name)
        assert loader["capabilities"] == [
            "about",
            "activate-version",
            "stream-maps",
            "structured-logging",
        ]
        names = {s["name"] for s in loader["settings"]}
        assert {"stream_maps", "stream_map_config", "validate_records", "batch_size_rows"} <= names
        assert names.isdisjoint({"flattening_enabled", "batch_config", "load_method"})


def test_secrets_are_sensitive_and_destinations_swap_by_name() -> None:
    project = _project()
    extractor = _plugin(project, "extractors", "tap-shopify-history")
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


def test_both_targets_declare_the_report_command() -> None:
    """`meltano invoke target-loyalty:report` runs `target-loyalty report`, in meltano.yml and
    on the Hub alike; the command carries no secret on its command line."""
    project = _project()
    for name in ("target-loyalty", "target-crm"):
        command = _plugin(project, "loaders", name)["commands"]["report"]
        assert command["args"] == "report"
        assert "$" not in command["args"]
        hub = yaml.safe_load(
            (ROOT / "plugins" / "loaders" / f"{name}--shopify-history-suite.yml").read_text()
        )
        assert hub["commands"] == {"report": command}
    tap = _plugin(project, "extractors", "tap-shopify-history")
    assert "commands" not in tap
