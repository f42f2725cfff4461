"""Every plugin definition under plugins/ passes Meltano Hub's own JSON Schema and yamllint.

The oracle is a verbatim copy of the Hub's schemas and `.yamllint.yaml` in
``../shared/meltano-hub-schema/`` (not vendored here); without it these tests skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from yamllint import linter
from yamllint.config import YamlLintConfig

ROOT = Path(__file__).resolve().parents[1]
HUB_SCHEMAS = ROOT.parent / "shared" / "meltano-hub-schema"
DEFINITIONS = sorted((ROOT / "plugins").glob("*/*.yml"))
# Every setting that holds a credential (the delivery API keys of target-crm among them).
SECRETS = {
    "access_token",
    "database_url",
    "moengage_api_key",
    "ometria_api_key",
    "webhook_queue_url",  # a database URL: may carry a password
}

pytestmark = pytest.mark.skipif(
    not HUB_SCHEMAS.is_dir(),
    reason=f"Meltano Hub's schemas are not at {HUB_SCHEMAS} (the test oracle)",
)


def _registry() -> Registry:
    """Every Hub schema under its ``$id`` and its path, as the Hub's validator resolves them."""
    resources = []
    for path in HUB_SCHEMAS.rglob("*.schema.json"):
        resource = Resource.from_contents(json.loads(path.read_text()))
        relative = path.relative_to(HUB_SCHEMAS).as_posix()
        resources += [(resource.contents["$id"], resource), (relative, resource)]
    return Registry().with_resources(resources)


def _validator(plugin_type: str) -> Draft7Validator:
    path = HUB_SCHEMAS / "plugin_definitions" / f"{plugin_type}.schema.json"
    schema = json.loads(path.read_text())
    # Relative $refs ("../common/...") resolve against the file's place in the folder.
    schema["$id"] = f"plugin_definitions/{plugin_type}.schema.json"
    return Draft7Validator(schema, registry=_registry())


def _definition(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_the_three_definitions_exist() -> None:
    assert [p.relative_to(ROOT / "plugins").as_posix() for p in DEFINITIONS] == [
        "extractors/tap-shopify-history--shopify-history-suite.yml",
        "loaders/target-crm--shopify-history-suite.yml",
        "loaders/target-loyalty--shopify-history-suite.yml",
    ]


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.stem for p in DEFINITIONS])
def test_definition_matches_the_hub_schema(path: Path) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(path.parent.name).iter_errors(_definition(path))
    ]
    assert errors == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.stem for p in DEFINITIONS])
def test_definition_passes_the_hub_yamllint_rules(path: Path) -> None:
    config = YamlLintConfig(file=str(HUB_SCHEMAS / "yamllint.yaml"))
    problems = [f"{p.line}:{p.column} {p.message}" for p in linter.run(path.read_text(), config)]
    assert problems == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.stem for p in DEFINITIONS])
def test_definition_carries_the_hub_metadata(path: Path) -> None:
    definition = _definition(path)
    assert definition["quality"] in {"gold", "silver", "bronze", "unknown"}
    assert definition["maintenance_status"] == "beta"
    assert "meltano_sdk" in definition["keywords"]
    assert definition["supported_python_versions"] == ["3.11", "3.12", "3.13"]
    assert definition["logo_url"].startswith("/assets/logos/")
    assert definition["docs"].endswith(f"/{definition['name']}/README.md")


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.stem for p in DEFINITIONS])
def test_secrets_are_passwords_and_sensitive(path: Path) -> None:
    settings = {s["name"]: s for s in _definition(path)["settings"]}
    secrets = {name: settings[name] for name in SECRETS & set(settings)}
    assert secrets, "each plugin has a secret"
    for setting in secrets.values():
        assert (setting["kind"], setting.get("sensitive"), "value" in setting) == (
            "password",
            True,
            False,
        )
    others = [s for s in settings.values() if s["name"] not in SECRETS]
    assert [s["name"] for s in others if s["kind"] == "password" or s.get("sensitive")] == []


def test_the_schema_oracle_rejects_what_the_issue_reported() -> None:
    """The validator is live: yesterday's definition (no `quality`, keys unordered) fails."""
    old = {"name": "target-crm", "variant": "x", "namespace": "target_crm", "label": "x"}
    assert [e.message for e in _validator("loaders").iter_errors(old)] == [
        "'quality' is a required property"
    ]
    config = YamlLintConfig(file=str(HUB_SCHEMAS / "yamllint.yaml"))
    problems = [p.rule for p in linter.run("name: a\nlabel: b\n", config)]
    assert problems == ["key-ordering"]
