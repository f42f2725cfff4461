"""`.ci/run` (through scripts/test.sh) lints exactly as `make lint` does (issue 13, item 5)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make_lint_commands() -> list[str]:
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "Makefile has a lint target"
    return [line.strip() for line in recipe.group(1).splitlines()]


def test_ci_runs_the_same_lint_as_make_lint() -> None:
    commands = _make_lint_commands()
    script = [line.strip() for line in (ROOT / "scripts" / "test.sh").read_text().splitlines()]
    lint = [line for line in script if line.startswith((".venv/bin/ruff", ".venv/bin/lint-"))]
    assert lint == commands
    assert ".venv/bin/ruff format --check ." in commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_python_in_the_markdown_is_formatted() -> None:
    """`ruff format --check .` reads the code blocks of CONTRIBUTING.md and the READMEs."""
    documents = sorted(
        str(path)
        for path in ROOT.glob("**/*.md")
        if not any(p.startswith(".") or p == "output" for p in path.relative_to(ROOT).parts)
    )
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ruff"), "format", "--check", *documents],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
