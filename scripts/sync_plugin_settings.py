"""Keep Meltano's plugin definitions in step with what each plugin says about itself.

Reads ``<executable> --about --format=json`` for the three plugins and writes their
``capabilities`` and ``settings`` into ``meltano.yml`` (comments and the rest of the file
are kept), the settings tables of ``README.md`` and the Hub-style definitions under
``plugins/``. Also writes ``plugins/constraints.txt`` from ``uv.lock``. ``--check`` reports
drift and exits 1 instead.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
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
SDK_BUILTIN_SETTINGS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
    "add_record_metadata",
    "load_method",
    "batch_size_rows",
    "validate_records",
}


def about(executable: str) -> dict[str, Any]:
    """Return the plugin's ``--about`` description."""
    output = subprocess.run(
        [str(ROOT / ".venv" / "bin" / executable), "--about", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


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


def meltano_settings(description: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugin's own settings (not singer-sdk's built-ins) as Meltano setting dicts."""
    properties: dict[str, Any] = description["settings"]["properties"]
    settings: list[dict[str, Any]] = []
    for name, schema in properties.items():
        if name in SDK_BUILTIN_SETTINGS:
            continue
        setting: dict[str, Any] = {"name": name, "label": schema.get("title") or _label(name)}
        setting.update(setting_kind(schema))
        if schema.get("description"):
            setting["description"] = " ".join(schema["description"].split())
        if "default" in schema and not schema.get("secret"):
            setting["value"] = schema["default"]
        if schema.get("secret") or schema.get("writeOnly"):
            setting["sensitive"] = True
        settings.append(setting)
    return settings


def _label(name: str) -> str:
    words = name.replace("_", " ").split()
    acronyms = {"url": "URL", "id": "ID", "api": "API", "sms": "SMS"}
    return " ".join(acronyms.get(w, w.capitalize()) for w in words)


def render_meltano_yml(descriptions: dict[str, dict[str, Any]]) -> str:
    """meltano.yml with each base plugin's capabilities and settings replaced."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    document = yaml.load((ROOT / "meltano.yml").read_text())
    for name, plugin_type in PLUGINS.items():
        for plugin in document["plugins"][plugin_type]:
            if plugin["name"] == name:
                plugin["capabilities"] = sorted(descriptions[name]["capabilities"])
                plugin["settings"] = meltano_settings(descriptions[name])
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def render_hub_definition(name: str, description: dict[str, Any]) -> str:
    """A Meltano Hub plugin definition, ready to submit to the Hub."""
    folder = name
    definition = {
        "name": name,
        "variant": PLUGIN_VARIANT,
        "namespace": name.replace("-", "_"),
        "label": description.get("name", name),
        "description": description.get("description") or name,
        "pip_url": f"git+https://github.com/shopify-history-suite/shopify-history-suite.git#subdirectory={folder}",
        "executable": name,
        "repo": "https://github.com/shopify-history-suite/shopify-history-suite",
        "capabilities": sorted(description["capabilities"]),
        "settings": meltano_settings(description),
    }
    yaml = YAML()
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(definition, buffer)
    return buffer.getvalue()


def render_settings_table(description: dict[str, Any]) -> str:
    """A Markdown table of the plugin's settings, for the README."""
    rows = ["| setting | kind | default | description |", "| --- | --- | --- | --- |"]
    for setting in meltano_settings(description):
        kind = setting["kind"] + (" (secret)" if setting.get("sensitive") else "")
        default = setting.get("value")
        shown = "" if default is None else f"`{json.dumps(default)}`"
        text = setting.get("description", "").replace("|", "\\|")
        rows.append(f"| `{setting['name']}` | {kind} | {shown} | {text} |")
    return "\n".join(rows) + "\n"


def render_readme(descriptions: dict[str, dict[str, Any]]) -> str:
    """README.md with each plugin's settings table between its markers."""
    text = (ROOT / "README.md").read_text()
    for name, description in descriptions.items():
        start, end = f"<!-- settings:{name} -->\n", f"<!-- /settings:{name} -->"
        if start not in text:
            continue
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + start + render_settings_table(description) + end + tail
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


def expected_files() -> dict[Path, str]:
    """Every generated file and the content it should have."""
    descriptions = {name: about(name) for name in PLUGINS}
    files = {
        ROOT / "meltano.yml": render_meltano_yml(descriptions),
        ROOT / "README.md": render_readme(descriptions),
    }
    for name, plugin_type in PLUGINS.items():
        path = ROOT / "plugins" / plugin_type / f"{name}--{PLUGIN_VARIANT}.yml"
        files[path] = render_hub_definition(name, descriptions[name])
    files[ROOT / "plugins" / "constraints.txt"] = render_constraints()
    return files


def main() -> int:
    """Write the files, or with ``--check`` report which ones drifted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    arguments = parser.parse_args()
    drifted = []
    for path, content in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        drifted.append(path.relative_to(ROOT))
        if not arguments.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if arguments.check and drifted:
        print("out of date (run scripts/sync_plugin_settings.py):", *drifted, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
