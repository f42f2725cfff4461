"""`make demo` reads the store once for its two pipelines (loyalty and CRM).

Issue: the demo ran ``meltano run tap-shopify-history target-loyalty tap-shopify-history
target-crm``, so the second pipeline read the very same records again and cost the store's
API budget twice. Now the tap's output is recorded once and both targets read it; each keeps
its own Meltano state, so the next demo run is incremental for both.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, meltano_env, project_lock

SIZE = (11, 50)  # a size no other demo test uses
COST = re.compile(
    r"^\[demo\] API cost of ([\w-]+): ([\d,]+) Shopify API requests, ([\d,]+) cost points, "
    r"([\d,]+) bulk operations$",
    re.MULTILINE,
)


def _demo(env: dict[str, str], books: Path) -> dict[str, tuple[int, int, int]]:
    customers, orders = SIZE
    command = [str(REPO_ROOT / "scripts" / "demo.sh"), "--customers", str(customers)]
    result = subprocess.run(
        [*command, "--orders", str(orders), "--output-dir", str(books)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert "== target-crm report ==" in result.stdout
    return {
        step: tuple(int(n.replace(",", "")) for n in figures)
        for step, *figures in COST.findall(result.stderr)
    }


@pytest.mark.e2e
@pytest.mark.slow
def test_the_second_pipeline_spends_no_shopify_api_cost(
    meltano_installed: Path, tmp_path: Path
) -> None:
    env = meltano_env({"MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}"})
    with project_lock():
        first = _demo(env, tmp_path / "books")
        second = _demo(env, tmp_path / "books")
        states = subprocess.run(
            [str(REPO_ROOT / ".venv" / "bin" / "meltano"), "state", "list"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    assert list(first) == ["extract", "target-loyalty", "target-crm"]
    requests, points, bulk = first["extract"]
    assert requests > 0
    assert points > 0
    assert bulk >= 2  # the backfill: customers and orders in bulk jobs
    assert first["target-loyalty"] == first["target-crm"] == (0, 0, 0)
    # Both targets stored their state: the second demo is one small incremental read.
    assert second["extract"][2] == 0
    assert second["extract"][1] < points
    assert second["target-loyalty"] == second["target-crm"] == (0, 0, 0)
    suffix = f"demo-{SIZE[0]}x{SIZE[1]}"
    assert sorted(states) == [
        f"dev:tap-shopify-history-to-target-crm:{suffix}",
        f"dev:tap-shopify-history-to-target-loyalty:{suffix}",
    ]
