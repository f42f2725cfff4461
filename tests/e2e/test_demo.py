"""`./scripts/demo.sh` as a new user runs it: each store size in its own books and state.

Issue: `./scripts/demo.sh --customers 200 --orders 1000` after `make demo` fed the smaller
store into the same books (same shop domain) and soft-deleted most accounts. Now each size
has ``output/<customers>x<orders>/`` and the state id suffix ``demo-<customers>x<orders>``,
and the demo keeps every file it writes private whatever the caller's umask.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from shopify_emulator import generate_store

from .conftest import REPO_ROOT, meltano_env, project_lock

# Sizes nobody else uses, the second smaller than the first, as in the report.
FIRST, SECOND = (29, 140), (13, 60)
DEMO_SEED, DEMO_STORE_TIME = 2026, datetime(2026, 11, 1, tzinfo=UTC)
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


def _script(arguments: list[str], env: dict[str, str]) -> str:
    """A demo script run as a new user runs it; its stdout, after checking it succeeded."""
    result = subprocess.run(
        arguments,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        umask=0o022,  # the caller's usual umask: the script must tighten it itself
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return result.stdout


def _demo(size: tuple[int, int], env: dict[str, str]) -> str:
    customers, orders = size
    demo = str(REPO_ROOT / "scripts" / "demo.sh")
    return _script([demo, "--customers", str(customers), "--orders", str(orders)], env)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*"))}


def _accounts(folder: Path) -> dict[int, str]:
    engine = sa.create_engine(f"sqlite:///{folder / 'loyalty.db'}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT customer_id, status FROM loyalty_accounts"))
        accounts = {int(customer_id): str(status) for customer_id, status in rows}
    engine.dispose()
    return accounts


def _not_private(paths: set[Path]) -> list[Path]:
    return sorted(p for p in paths if p.exists() and p.stat().st_mode & 0o077)


@pytest.mark.e2e
@pytest.mark.slow
def test_each_demo_size_keeps_its_own_books_and_state(
    meltano_installed: Path, tmp_path: Path
) -> None:
    folders = [REPO_ROOT / "output" / f"{c}x{o}" for c, o in (FIRST, SECOND)]
    assert not any(f.exists() for f in folders), "leftover demo output from another run"
    env = meltano_env({"MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}"})
    run_dir = REPO_ROOT / ".meltano" / "run"
    try:
        with project_lock():
            existing = set(run_dir.rglob("*"))
            first_report = _demo(FIRST, env)
            first_books = _digest(folders[0])
            second_report = _demo(SECOND, env)
            states = subprocess.run(
                [str(REPO_ROOT / ".venv" / "bin" / "meltano"), "state", "list"],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            # `make demo` ends with the HTML reports of its books, their paths printed.
            pages = _script(
                [str(PYTHON), str(REPO_ROOT / "scripts" / "demo_pipelines.py"), str(folders[1])],
                env,
            )
            written = set(run_dir.rglob("*")) - existing
        expected = [folders[1] / f"{t}-report.html" for t in ("target-loyalty", "target-crm")]
        assert pages.splitlines() == [f"HTML sync report: {p}" for p in expected]
        second_store = generate_store(DEMO_SEED, *SECOND, now=DEMO_STORE_TIME)
        active = f'data-figure="active_accounts" data-value="{len(second_store.customers)}"'
        assert active in expected[0].read_text(encoding="utf-8")
        for report in (first_report, second_report):
            assert "== target-loyalty report ==" in report
            assert "== target-crm report ==" in report
        assert _digest(folders[0]) == first_books, "the second size touched the first's books"
        for folder, (customers, orders) in zip(folders, (FIRST, SECOND), strict=True):
            store = generate_store(DEMO_SEED, customers, orders, now=DEMO_STORE_TIME)
            assert _accounts(folder) == dict.fromkeys(store.customers, "active")
        assert sorted(states) == sorted(
            f"dev:tap-shopify-history-to-{target}:demo-{c}x{o}"
            for target in ("target-loyalty", "target-crm")
            for c, o in (FIRST, SECOND)
        )
        books = {p for folder in folders for p in (folder, *folder.iterdir())}
        assert _not_private(books | written) == []
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        output = REPO_ROOT / "output"
        if output.exists() and not any(output.iterdir()):
            output.rmdir()
