"""Keep Meltano's plugin definitions in step with what each plugin says about itself.

One source: ``<executable> --about --format=json`` of the project's three plugins, corrected
by :data:`DECLARATIONS` where the singer-sdk defaults it reports are not what the plugin
really handles. From it this writes

- the ``capabilities``, ``settings`` and ``commands`` of the three base plugins in
  ``meltano.yml`` (the rest of the file, its comments and any other plugin are left alone),
- the settings tables of ``README.md``,
- the Meltano Hub definitions under ``plugins/`` (keys in the Hub's order, secrets as
  ``kind: password``),
- ``plugins/constraints.txt`` from ``uv.lock``.

``--check`` writes nothing and exits 1 naming what drifted. For ``meltano.yml`` it compares
meaning, not text: only the three plugins' ``capabilities``, ``settings`` and ``commands``,
so a plugin added with ``meltano add`` (which also reformats the file) is not drift. Running
it twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
PLUGINS: dict[str, str] = {
    "tap-shopify-history": "extractors",
    "target-loyalty": "loaders",
    "target-crm": "loaders",
}
PLUGIN_VARIANT = "shopify-history-suite"
REPO = "https://github.com/shopify-history-suite/shopify-history-suite"
MELTANO_SCHEMA = Path("meltano", "schemas", "meltano.schema.json")

FLATTENING = (
    "with flattening on, a null nested object keeps its key and `additionalProperties: false` "
    "rejects the record (issue 13, item 3): not advertised until it works"
)
ROSTER = "the `customer_roster` stream's closing ACTIVATE_VERSION marks deleted customers"


@dataclass(frozen=True)
class Declaration:
    """What a plugin supports where its ``--about`` (singer-sdk's defaults) says otherwise.

    Attributes:
        add: Capabilities the plugin handles without listing them, with the evidence.
        remove: Capabilities it lists but does not handle, with the reason.
        hub: Meltano Hub metadata of the plugin (merged into its definition).
    """

    add: dict[str, str] = field(default_factory=dict)
    remove: dict[str, str] = field(default_factory=dict)
    hub: dict[str, Any] = field(default_factory=dict)


DECLARATIONS: dict[str, Declaration] = {
    "tap-shopify-history": Declaration(
        remove={
            "batch": "BATCH files carry the records but the sync_manifest then says 0 were "
            "emitted, so every target's reconciliation fails the run",
        },
        hub={
            "domain_url": "https://shopify.dev/docs/api/admin-graphql",
            "keywords": ["api", "ecommerce", "shopify", "meltano_sdk"],
            "logo_url": "/assets/logos/extractors/shopify.png",
        },
    ),
    "target-loyalty": Declaration(
        add={"activate-version": ROSTER},
        remove={"schema-flattening": FLATTENING},
        hub={"keywords": ["loyalty", "ecommerce", "shopify", "meltano_sdk"]},
    ),
    "target-crm": Declaration(
        add={"activate-version": ROSTER},
        remove={"schema-flattening": FLATTENING},
        hub={"keywords": ["crm", "ecommerce", "shopify", "meltano_sdk"]},
    ),
}

# singer-sdk's built-in settings, each with the capability that makes it meaningful
# ("" = every target). One is declared only when that capability is declared.
SDK_SETTINGS: dict[str, str] = {
    "stream_maps": "stream-maps",
    "stream_map_config": "stream-maps",
    "faker_config": "stream-maps",
    "flattening_enabled": "schema-flattening",
    "flattening_max_depth": "schema-flattening",
    "flattening_max_key_length": "schema-flattening",
    "flattening_separator": "schema-flattening",
    "batch_config": "batch",
    "validate_records": "validate-records",
    "process_activate_version_messages": "activate-version",
    "batch_size_rows": "",
    "add_record_metadata": "",
    "load_method": "",
}
# Built-ins these plugins accept but ignore; declaring them would promise an effect.
IGNORED_SDK_SETTINGS: dict[str, str] = {
    "add_record_metadata": "the targets keep domain tables, not raw records with `_sdc_` columns",
    "load_method": "every write is an idempotent upsert keyed by a deterministic id",
    "process_activate_version_messages": "the roster's ACTIVATE_VERSION is always applied",
    "faker_config": "Faker is not installed with these plugins: map expressions have no `fake`",
}
# `meltano invoke <plugin>:<command>`. Meltano exports the plugin's settings to a command as
# <PLUGIN>_<SETTING> variables (TARGET_LOYALTY_DATABASE_URL), which `report` reads when given
# no --database-url: the secret URL never appears on a command line.
REPORT_COMMANDS: dict[str, dict[str, Any]] = {
    "report": {
        "args": "report",
        "description": "The sync report of the configured database (`--format table|json|html`, "
        "`--output FILE` for html)",
    },
}
COMMANDS: dict[str, dict[str, dict[str, Any]]] = {
    "tap-shopify-history": {},
    "target-loyalty": REPORT_COMMANDS,
    "target-crm": REPORT_COMMANDS,
}
HUB_DEFAULTS: dict[str, Any] = {"maintenance_status": "beta", "quality": "unknown"}


def about(executable: str) -> dict[str, Any]:
    """Return the plugin's ``--about`` description."""
    output = subprocess.run(
        [str(ROOT / ".venv" / "bin" / executable), "--about", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def capabilities(name: str, description: dict[str, Any]) -> list[str]:
    """What the plugin really supports: its ``--about`` corrected by :data:`DECLARATIONS`."""
    declared = DECLARATIONS[name]
    return sorted((set(description["capabilities"]) | set(declared.add)) - set(declared.remove))


def meltano_capabilities(name: str, description: dict[str, Any]) -> list[str]:
    """The capabilities the installed Meltano's schema knows (4.4.1: no `validate-records`)."""
    known = _meltano_capability_enum(PLUGINS[name])
    return [c for c in capabilities(name, description) if c in known]


def _meltano_capability_enum(plugin_type: str) -> set[str]:
    for folder in sys.path:
        path = Path(folder) / MELTANO_SCHEMA
        if path.exists():
            plugin_schema = json.loads(path.read_text())["$defs"]["plugins"][plugin_type]
            return set(_find_capability_enum(plugin_schema))
    msg = f"Meltano's schema {MELTANO_SCHEMA} is not installed (run `make bootstrap`)"
    raise FileNotFoundError(msg)


def _find_capability_enum(node: Any) -> list[str]:
    if isinstance(node, dict):
        if "capabilities" in node.get("properties", {}):
            return list(node["properties"]["capabilities"]["items"]["enum"])
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            if found := _find_capability_enum(child):
                return found
    return []


def setting_kind(schema: dict[str, Any]) -> dict[str, Any]:
    """Map one JSON Schema property onto Meltano's setting kind (and options)."""
    types = schema.get("type", "string")
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    kind = types[0] if types else "string"
    if "enum" in schema:
        options = [{"label": str(v), "value": v} for v in schema["enum"] if v is not None]
        return {"kind": "options", "options": options}
    if kind == "string" and schema.get("format") == "date-time":
        return {"kind": "date_iso8601"}
    mapping = {"number": "decimal", "array": "array", "object": "object"}
    return {"kind": mapping.get(kind, kind)}


def declared_setting_names(name: str, description: dict[str, Any]) -> list[str]:
    """The plugin's own settings, then the singer-sdk built-ins it really supports."""
    properties: dict[str, Any] = description["settings"]["properties"]
    supported = set(capabilities(name, description)) | {""}
    own = [n for n in properties if n not in SDK_SETTINGS]
    sdk = [
        n for n in properties if SDK_SETTINGS.get(n) in supported and n not in IGNORED_SDK_SETTINGS
    ]
    return own + sdk


def meltano_settings(name: str, description: dict[str, Any]) -> list[dict[str, Any]]:
    """The declared settings as Meltano setting dicts (secrets: ``sensitive: true``)."""
    properties: dict[str, Any] = description["settings"]["properties"]
    settings: list[dict[str, Any]] = []
    for setting_name in declared_setting_names(name, description):
        schema = properties[setting_name]
        secret = bool(schema.get("secret") or schema.get("writeOnly"))
        label = schema.get("title") or _label(setting_name)
        setting: dict[str, Any] = {"name": setting_name, "label": label}
        setting.update(setting_kind(schema))
        if schema.get("description"):
            setting["description"] = " ".join(schema["description"].split())
        if "default" in schema and not secret:
            setting["value"] = schema["default"]
        if secret:
            setting["sensitive"] = True
        settings.append(setting)
    return settings


def _label(name: str) -> str:
    words = name.replace("_", " ").split()
    acronyms = {"url": "URL", "id": "ID", "api": "API", "sms": "SMS"}
    return " ".join(acronyms.get(w, w.capitalize()) for w in words)


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _own_plugins(document: Any) -> dict[str, Any]:
    """The project's three base plugins in a loaded meltano.yml, by name."""
    found = {}
    for name, plugin_type in PLUGINS.items():
        for plugin in document["plugins"][plugin_type]:
            if plugin["name"] == name and "inherit_from" not in plugin:
                found[name] = plugin
    return found


def render_meltano_yml(text: str, descriptions: dict[str, dict[str, Any]]) -> str:
    """meltano.yml with each base plugin's capabilities and settings replaced."""
    yaml = _yaml()
    document = yaml.load(text)
    for name, plugin in _own_plugins(document).items():
        plugin["capabilities"] = meltano_capabilities(name, descriptions[name])
        plugin["settings"] = meltano_settings(name, descriptions[name])
        if COMMANDS[name]:
            plugin["commands"] = _copy(COMMANDS[name])
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def meltano_yml_drift(text: str, descriptions: dict[str, dict[str, Any]]) -> list[str]:
    """Which of the three plugins' blocks in meltano.yml differ from their ``--about``."""
    plugins = _own_plugins(YAML(typ="safe").load(text))
    drifted = []
    for name in PLUGINS:
        plugin = plugins.get(name, {})
        expected = (
            meltano_capabilities(name, descriptions[name]),
            meltano_settings(name, descriptions[name]),
            COMMANDS[name] or None,
        )
        found = (plugin.get("capabilities"), plugin.get("settings"), plugin.get("commands"))
        if found != expected:
            drifted.append(name)
    return drifted


def hub_definition(name: str, description: dict[str, Any], project: Any) -> dict[str, Any]:
    """A Meltano Hub definition of one plugin (from ``--about`` and its meltano.yml block)."""
    plugin = _own_plugins(project)[name]
    # Workspace packages a plugin depends on are installed from the same repository.
    shared = (
        "packages/target-runtime" if PLUGINS[name] == "loaders" else "packages/shopify-webhooks"
    )
    folders = [shared, name]
    settings = []
    for setting in meltano_settings(name, description):
        if setting.get("sensitive"):
            setting["kind"] = "password"  # the Hub's kind for secrets (Meltano: sensitive)
        settings.append(setting)
    definition: dict[str, Any] = {
        **HUB_DEFAULTS,
        "capabilities": capabilities(name, description),
        "description": plugin.get("description") or description.get("description") or name,
        "docs": f"{REPO}/blob/main/{name}/README.md",
        "executable": name,
        "label": plugin.get("label") or name,
        "logo_url": f"/assets/logos/{PLUGINS[name]}/{name}.png",
        "name": name,
        "namespace": name.replace("-", "_"),
        "pip_url": " ".join(f"git+{REPO}.git#subdirectory={f}" for f in folders),
        "repo": REPO,
        "settings": settings,
        "supported_python_versions": list(description.get("supported_python_versions", [])),
        "variant": PLUGIN_VARIANT,
        **DECLARATIONS[name].hub,
    }
    if COMMANDS[name]:
        definition["commands"] = _copy(COMMANDS[name])
    if plugin.get("settings_group_validation"):
        groups = plugin["settings_group_validation"]
        definition["settings_group_validation"] = [list(group) for group in groups]
    return _sorted_keys(definition)


def _copy(commands: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # A fresh copy each time: YAML dumpers turn a mapping seen twice into an anchor.
    return {name: dict(command) for name, command in commands.items()}


def _sorted_keys(node: Any) -> Any:
    """Every mapping's keys in alphabetical order (the Hub's yamllint `key-ordering`)."""
    if isinstance(node, dict):
        return {key: _sorted_keys(node[key]) for key in sorted(node)}
    if isinstance(node, list):
        return [_sorted_keys(item) for item in node]
    return node


def render_hub_definition(name: str, description: dict[str, Any], project: Any) -> str:
    """The Hub definition as YAML in the Hub's style (block sequences at the key's indent)."""
    yaml = _yaml()
    buffer = io.StringIO()
    yaml.dump(hub_definition(name, description, project), buffer)
    return buffer.getvalue()


def render_settings_table(name: str, description: dict[str, Any]) -> str:
    """A Markdown table of the plugin's settings, for the README."""
    rows = ["| setting | kind | default | description |", "| --- | --- | --- | --- |"]
    for setting in meltano_settings(name, description):
        kind = setting["kind"] + (" (secret)" if setting.get("sensitive") else "")
        default = setting.get("value")
        shown = "" if default is None else f"`{json.dumps(default)}`"
        text = setting.get("description", "").replace("|", "\\|")
        rows.append(f"| `{setting['name']}` | {kind} | {shown} | {text} |")
    return "\n".join(rows) + "\n"


def render_readme(text: str, descriptions: dict[str, dict[str, Any]]) -> str:
    """README.md with each plugin's settings table between its markers."""
    for name, description in descriptions.items():
        start, end = f"<!-- settings:{name} -->\n", f"<!-- /settings:{name} -->"
        if start not in text:
            continue
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + start + render_settings_table(name, description) + end + tail
    return text


def render_constraints() -> str:
    """Third-party pins from uv.lock, for the plugins' ``pip_url -c``."""
    uv = ROOT / ".tools" / "bin" / "uv"
    return subprocess.run(
        [
            str(uv),
            "export",
            "--frozen",
            "--all-packages",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-dev",
            "--no-annotate",
            "--no-header",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout


def hub_definition_path(name: str) -> Path:
    """Where the plugin's Hub definition lives."""
    return ROOT / "plugins" / PLUGINS[name] / f"{name}--{PLUGIN_VARIANT}.yml"


def expected_files(meltano_yml: Path, descriptions: dict[str, dict[str, Any]]) -> dict[Path, str]:
    """Every generated file (meltano.yml, README, Hub definitions, constraints) and its text."""
    project_text = meltano_yml.read_text()
    project = YAML(typ="safe").load(project_text)
    files = {
        meltano_yml: render_meltano_yml(project_text, descriptions),
        ROOT / "README.md": render_readme((ROOT / "README.md").read_text(), descriptions),
    }
    for name in PLUGINS:
        files[hub_definition_path(name)] = render_hub_definition(name, descriptions[name], project)
    files[ROOT / "plugins" / "constraints.txt"] = render_constraints()
    return files


def _is_current(path: Path, content: str, meltano_yml: Path, descriptions: Any) -> bool:
    if not path.exists():
        return False
    if path == meltano_yml:
        return not meltano_yml_drift(path.read_text(), descriptions)
    return path.read_text() == content


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with ``--check`` report which ones drifted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    parser.add_argument(
        "--meltano-yml", type=Path, default=ROOT / "meltano.yml", help="project file to sync"
    )
    arguments = parser.parse_args(argv)
    descriptions = {name: about(name) for name in PLUGINS}
    drifted = []
    for path, content in expected_files(arguments.meltano_yml, descriptions).items():
        if _is_current(path, content, arguments.meltano_yml, descriptions):
            continue
        drifted.append(path)
        if not arguments.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if arguments.check and drifted:
        print("out of date (run scripts/sync_plugin_settings.py):", *drifted, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
