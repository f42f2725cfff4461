"""Console entry point: ``target-loyalty report ...`` or the Singer target."""

from __future__ import annotations

import sys

from target_loyalty.report import main as report_main
from target_loyalty.target import TargetLoyalty


def main() -> None:
    """Run the report subcommand when asked, else the singer-sdk target CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        raise SystemExit(report_main(sys.argv[2:]))
    TargetLoyalty.cli()
