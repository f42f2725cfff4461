"""Each target's SQL lives in its storage layer (CONTRIBUTING "Where each layer lives").

The modules that apply batches, close runs and keep run records call storage functions; they
may name a ``Connection`` or ``Engine`` in a signature but build no statement, so a change of
schema or dialect is a change to the storage layer only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Modules that coordinate storage calls and must build no SQL themselves.
COORDINATORS = [
    ROOT / "target-loyalty" / "target_loyalty" / "books.py",
    ROOT / "target-loyalty" / "target_loyalty" / "closing.py",
    ROOT / "target-loyalty" / "target_loyalty" / "runs.py",
]
#: What a coordinator may import from SQLAlchemy: connection types, for signatures.
ALLOWED = {"sqlalchemy.engine"}


def sqlalchemy_imports(path: Path) -> list[str]:
    """The SQLAlchemy modules a file imports (``import x`` or ``from x import y``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found.append(node.module or "")
    return found


@pytest.mark.parametrize("path", COORDINATORS, ids=[p.name for p in COORDINATORS])
def test_coordinators_build_no_sql(path: Path) -> None:
    assert [m for m in sqlalchemy_imports(path) if m not in ALLOWED] == []
    assert "sa." not in path.read_text()


def test_the_check_sees_a_statement_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import sqlalchemy as sa\nfrom sqlalchemy.engine import Connection\n")
    assert sqlalchemy_imports(module) == ["sqlalchemy", "sqlalchemy.engine"]
