"""Console entry point: `target-crm report ...` or the Singer target."""

from __future__ import annotations

import sys

from target_runtime.report_cli import run_singer_cli, run_subcommand

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
    run_subcommand(sys.argv, {"report": _report})
    from target_crm.target import TargetCRM  # noqa: PLC0415

    run_singer_cli(TargetCRM.cli, REPORT_HELP)


def _report(argv: list[str]) -> int:
    # Imported here: the Singer target's start-up needs none of the report's modules.
    from target_crm.report import main as report_main  # noqa: PLC0415

    return report_main(argv)
