"""Console entry point: `target-crm report ...` or the Singer target."""

from __future__ import annotations

import sys

# Shown under `target-crm --help`: the report is a subcommand the Singer CLI does not know.
# "\b" keeps click from rewrapping the lines.
REPORT_HELP = """\b
Report: target-crm report [--format table|json|html] [--output FILE]
  [--shop DOMAIN] [--run ID] [--database-url URL]
  A run's statistics, reconciliation and delivery (default: $TARGET_CRM_DATABASE_URL).
  With Meltano: meltano invoke target-crm:report --format html --output FILE
  See target-crm report --help."""


def main() -> None:
    """Run `report` when it is the first argument, otherwise the Singer target CLI."""
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        from target_crm.report import main as report_main  # noqa: PLC0415

        sys.exit(report_main(sys.argv[2:]))
    from target_crm.target import TargetCRM  # noqa: PLC0415

    command = TargetCRM.cli
    command.epilog = REPORT_HELP
    command()
