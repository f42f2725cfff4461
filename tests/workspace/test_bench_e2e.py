"""`make bench`'s end-to-end benchmark runs on a tiny store and prints every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_bench_e2e_prints_figures_for_both_pipelines() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_e2e.py"),
            "--orders",
            "200",
            "--customers",
            "40",
            "--skip-baseline",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    for target in ("target-loyalty", "target-crm"):
        assert f"meltano run tap-shopify-history {target}" in result.stdout
    assert "orders/s" in result.stdout
    assert "load average" in result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    runs = {run["target"]: run for run in figures["runs"]}
    assert set(runs) == {"target-loyalty", "target-crm"}
    for run in runs.values():
        assert run["variant"] == "ours"
        # The emulator's store holds test orders, which the tap reads and does not emit.
        assert 0 < run["orders_in_books"] <= 200
        assert run["orders_per_second"] > 0
        for process in ("tap", "target", "meltano"):
            assert run[f"{process}_cpu"] > 0, (process, run)
            assert run[f"{process}_peak_mb"] > 10, (process, run)
