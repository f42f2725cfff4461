"""Console entry point: `target-crm report ...` or the Singer target."""

from __future__ import annotations

import sys


def main() -> None:
    """Run `report` when it is the first argument, otherwise the Singer target CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        from target_crm.report import main as report_main  # noqa: PLC0415

        sys.exit(report_main(sys.argv[2:]))
    from target_crm.target import TargetCRM  # noqa: PLC0415

    TargetCRM.cli()
