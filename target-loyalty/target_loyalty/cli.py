"""Console entry point: ``target-loyalty report ...`` or the Singer target."""

from __future__ import annotations

import gc
import sys

from target_loyalty.report import main as report_main
from target_loyalty.target import TargetLoyalty


def main() -> None:
    """Run the report subcommand when asked, else the singer-sdk target CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        raise SystemExit(report_main(sys.argv[2:]))
    # Every record decodes into many small dicts; the default GC thresholds rescan them
    # constantly (about a quarter of the run time). Nothing we keep forms cycles.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    TargetLoyalty.cli()
