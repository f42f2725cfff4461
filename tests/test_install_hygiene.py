"""No two installed distributions write the same file, and the plugin installs are pinned.

Two distributions that ship the same module (``backoff`` and ``python-backoff`` both write
``backoff/``) leave whichever was installed last, so behaviour depends on install order.
Checked for the locked development environment and for each plugin's own install as
``meltano install`` makes it (its ``pip_url`` in ``meltano.yml``, into a fresh venv).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"
CONSTRAINTS = ROOT / "plugins" / "constraints.txt"
WORKSPACE = {
    "tap-shopify-history",
    "target-crm",
    "target-loyalty",
    "target-runtime",
    "shopify-webhooks",
}

# Run inside an interpreter: every distribution on its path with the files its RECORD lists.
LIST_FILES = """
import importlib.metadata as md, json, os
seen, out = set(), []
for dist in md.distributions():
    where = os.path.realpath(str(dist._path))  # one dist-info found twice on sys.path
    if where in seen:
        continue
    seen.add(where)
    files = [os.path.realpath(str(dist.locate_file(f))) for f in dist.files or []]
    out.append({"name": dist.metadata["Name"], "version": dist.version, "files": files})
print(json.dumps(out))
"""


def normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(python: Path | str) -> list[dict]:
    """The distributions (name, version, files) of one interpreter's environment."""
    result = subprocess.run(
        [str(python), "-c", LIST_FILES], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def clashes(distributions: Iterable[dict]) -> dict[str, list[str]]:
    """File -> the distributions that write it, for files written by more than one."""
    writers: dict[str, set[str]] = defaultdict(set)
    names: dict[str, list[str]] = defaultdict(list)
    for dist in distributions:
        names[normalise(dist["name"])].append(dist["version"])
        for path in dist["files"]:
            writers[path].add(f"{dist['name']}=={dist['version']}")
    found = {path: sorted(who) for path, who in writers.items() if len(who) > 1}
    twice = {name: versions for name, versions in names.items() if len(versions) > 1}
    found.update({f"<{name} installed twice>": versions for name, versions in twice.items()})
    return found


def pins() -> dict[str, str]:
    """``plugins/constraints.txt`` as name -> version (environment markers ignored)."""
    pinned = {}
    for line in CONSTRAINTS.read_text().splitlines():
        requirement = line.split(";")[0].strip()
        if requirement and not requirement.startswith("#"):
            name, version = requirement.split("==")
            pinned[normalise(name)] = version.strip()
    return pinned


def plugin_pip_urls() -> dict[str, str]:
    """Plugin name -> ``pip_url``, for every plugin of ``meltano.yml`` that installs itself."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {
        plugin["name"]: plugin["pip_url"]
        for plugins in project["plugins"].values()
        for plugin in plugins
        if plugin.get("pip_url")
    }


def install_plugin(pip_url: str, venv: Path) -> list[dict]:
    """Install one ``pip_url`` into a fresh venv, as ``meltano install`` does."""
    subprocess.run([str(UV), "venv", "--quiet", str(venv)], check=True, cwd=ROOT)
    python = venv / "bin" / "python"
    command = [str(UV), "pip", "install", "--quiet", "--python", str(python)]
    subprocess.run([*command, *shlex.split(pip_url)], check=True, cwd=ROOT, capture_output=True)
    return installed(python)


def test_the_locked_environment_has_no_two_distributions_writing_one_file() -> None:
    assert clashes(installed(sys.executable)) == {}


def test_clashes_are_found() -> None:
    # The check itself: the two backoff distributions of issue 10 are caught.
    both = [
        {"name": "backoff", "version": "2.2.1", "files": ["/sp/backoff/__init__.py"]},
        {"name": "python-backoff", "version": "3.0.0", "files": ["/sp/backoff/__init__.py"]},
        {"name": "requests", "version": "2.34.2", "files": ["/sp/requests/__init__.py"]},
    ]
    assert clashes(both) == {"/sp/backoff/__init__.py": ["backoff==2.2.1", "python-backoff==3.0.0"]}


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by scripts/bootstrap.sh")
def test_constraints_are_the_third_party_pins_of_uv_lock() -> None:
    exported = subprocess.run(
        [
            str(UV),
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
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert CONSTRAINTS.read_text() == exported


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by scripts/bootstrap.sh")
def test_each_plugin_install_is_clean_and_fully_pinned(tmp_path: Path) -> None:
    urls = plugin_pip_urls()
    assert set(urls) == {"tap-shopify-history", "target-loyalty", "target-crm"}
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        futures = {
            name: pool.submit(install_plugin, url, tmp_path / name) for name, url in urls.items()
        }
        environments = {name: future.result() for name, future in futures.items()}
    pinned = pins()
    for name, distributions in environments.items():
        assert clashes(distributions) == {}, name
        unpinned = {
            normalise(d["name"]): d["version"]
            for d in distributions
            if normalise(d["name"]) not in WORKSPACE
            and pinned.get(normalise(d["name"])) != d["version"]
        }
        assert unpinned == {}, f"{name} installs distributions constraints.txt does not pin"
