"""Console entry point: ``target-loyalty report ...`` or the Singer target."""

from __future__ import annotations

import gc
import sys

from target_runtime.report_cli import run_singer_cli, run_subcommand

from target_loyalty.recompute import main as recompute_main
from target_loyalty.report import DATABASE_URL_VARIABLE
from target_loyalty.report import main as report_main
from target_loyalty.target import TargetLoyalty

# Shown under `target-loyalty --help`: the report is a subcommand the Singer CLI does not know.
# "\b" keeps click from rewrapping the lines.
REPORT_HELP = f"""\b
Report: target-loyalty report [--format table|json|html] [--output FILE]
  [--shop DOMAIN] [--limit N] [--details] [--database-url URL]
  The sync statistics of the books (default: ${DATABASE_URL_VARIABLE}).
  With Meltano: meltano invoke target-loyalty:report --format html --output FILE
  See target-loyalty report --help.

\b
Recompute: target-loyalty recompute --config FILE [--shop DOMAIN]
  Every account recomputed under the configured rules (after a rule change)."""


def main() -> None:
    """Run the report subcommand when asked, else the singer-sdk target CLI."""
    run_subcommand(sys.argv, {"report": report_main, "recompute": recompute_main})
    # Every record decodes into many small dicts; the default GC thresholds rescan them
    # constantly (about a quarter of the run time). Nothing we keep forms cycles.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    run_singer_cli(TargetLoyalty.cli, REPORT_HELP)
