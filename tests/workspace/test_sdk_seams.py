"""Private singer-sdk use goes through one seam module per package (issue 16).

singer-sdk may rename or drop any ``_``-member in a minor release. Each plugin keeps every
override or use of one in its ``sdk_seam.py``, with why no public hook serves; this test
reads every other module of the package and fails when it overrides, calls or reads a
private member of the SDK classes the plugins subclass, or imports a private SDK module.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap, Target
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.sinks import BatchSink

ROOT = Path(__file__).resolve().parents[2]
SDK_BASES = (Target, BatchSink, Tap, Stream, GenericSingerReader)
PACKAGES = {
    "tap-shopify-history": ROOT / "tap-shopify-history" / "tap_shopify_history",
    "target-crm": ROOT / "target-crm" / "target_crm",
    "target-loyalty": ROOT / "target-loyalty" / "target_loyalty",
    "target-runtime": ROOT / "packages" / "target-runtime" / "target_runtime",
}
# Uses outside the seam in modules not yet moved to it, as (module, member). Each must still
# occur (a stale entry fails), so the list only shrinks.
PENDING: dict[str, set[tuple[str, str]]] = {
    "tap-shopify-history": set(),
    "target-crm": set(),
    "target-loyalty": set(),
    "target-runtime": set(),
}
_SELF_ATTRIBUTE = re.compile(r"self\.(_[A-Za-z]\w*)\s*(?::[^=\n]*)?=[^=]")


@cache
def sdk_private_members() -> frozenset[str]:
    """``_``-names (not dunders) of the SDK base classes: methods, class and instance attributes."""
    names: set[str] = set()
    for base in SDK_BASES:
        for cls in base.__mro__:
            if not cls.__module__.startswith("singer_sdk"):
                continue
            names.update(vars(cls))
            try:
                names.update(_SELF_ATTRIBUTE.findall(inspect.getsource(cls)))
            except (OSError, TypeError):
                continue
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


def _own_attributes(tree: ast.Module) -> set[str]:
    """Attributes a module's own classes define (``self._x = ...`` in a class not from the SDK).

    A class of the module that subclasses nothing keeps its own ``_logger`` or ``_config``;
    those are not the SDK's even when an SDK class has a member of the same name.
    """
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not node.bases:
            for inner in ast.walk(node):
                target = inner.target if isinstance(inner, ast.AnnAssign) else None
                targets = inner.targets if isinstance(inner, ast.Assign) else [target]
                own.update(
                    t.attr
                    for t in targets
                    if isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                )
    return own


def private_uses(source: str, members: frozenset[str]) -> set[str]:
    """The private SDK members a module's source overrides, calls or reads, and private imports."""
    found: set[str] = set()
    tree = ast.parse(source)
    members = members - _own_attributes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found.update(
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in members
            )
        elif isinstance(node, ast.Attribute) and node.attr in members:
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            if any(part.startswith("_") for part in (node.module or "").split(".")):
                found.add(node.module or "")
            found.update(alias.name for alias in node.names if alias.name.startswith("_"))
        elif isinstance(node, ast.Import):
            found.update(
                alias.name
                for alias in node.names
                if alias.name.startswith("singer_sdk")
                and any(part.startswith("_") for part in alias.name.split("."))
            )
    return found


def test_the_sdk_private_members_are_known() -> None:
    members = sdk_private_members()
    # The members the plugins are known to need; if these vanish the SDK changed shape.
    assert {"_validate_and_parse", "_process_record_message", "_stream_version"} <= members
    assert "__init__" not in members


def test_the_checker_finds_overrides_calls_and_private_imports() -> None:
    source = (
        "from singer_sdk.helpers._util import utc_now\n"
        "class S(BatchSink):\n"
        "    def _validate_and_parse(self, record):\n"
        "        return record\n"
        "    def own(self):\n"
        "        self._process_record_message({})\n"
        "        self._mine = 1\n"
        "class Own:\n"
        "    def __init__(self):\n"
        "        self._config = {}\n"
    )
    assert private_uses(source, sdk_private_members()) == {
        "singer_sdk.helpers._util",
        "_validate_and_parse",
        "_process_record_message",
    }


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_only_the_seam_touches_private_sdk_members(package: str) -> None:
    root = PACKAGES[package]
    assert (root / "sdk_seam.py").is_file(), f"{package} has no sdk_seam.py"
    members = sdk_private_members()
    outside: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module == "sdk_seam.py":
            continue
        outside.update((module, use) for use in private_uses(path.read_text(), members))
    new = outside - PENDING[package]
    assert not new, (
        f"{package}: private singer-sdk members outside sdk_seam.py (move each behind the "
        f"seam, with why no public hook serves): {sorted(new)}"
    )
    stale = PENDING[package] - outside
    assert not stale, f"{package}: no longer used, remove from PENDING: {sorted(stale)}"
