"""The ``<target> report`` command line every target shares; the report's content is the target's.

A target gives what is its own (how a report is loaded from its tables, drawn as a table and
as HTML, and whether it counts as a success) and gets the rest: the ``--database-url``,
``--shop``, ``--format table|json|html`` and ``--output`` options, the database chosen as
:func:`target_runtime.report_html.report_database_url` chooses it, a configuration error as
exit code 2, JSON written the same way, and exit code 1 when the report says the latest run
did not succeed.

    command = ReportCommand(
        prog="target-example report",
        description=__doc__,
        database_variable="TARGET_EXAMPLE_DATABASE_URL",
        default_database_url="sqlite:///example.db",
        validate_database_url=database_url_from_setting,  # raises config_error
        config_error=ExampleConfigError,
        load=lambda url, args: load_report(url, args.shop),
        render_table=lambda report, args: render_table(report),
        render_html=lambda url, report, args: render_html(url, report, args.shop),
        verdict=lambda report: Verdict(report["ok"]),
    )
    raise SystemExit(command.run(sys.argv[2:]))

and in the console entry point, :func:`run_subcommand` before the Singer CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from target_runtime import report_html as h

__all__ = ["ReportCommand", "Verdict", "render_json", "run_singer_cli", "run_subcommand"]

Report = TypeVar("Report")

#: Exit codes of ``report``.
EXIT_OK, EXIT_NOT_SUCCEEDED, EXIT_CONFIG_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Verdict:
    """Whether a report counts as a success, and the lines to say on stderr about it."""

    ok: bool
    notes: Sequence[str] = ()


def render_json(report: Any) -> str:
    """The report as indented JSON (values JSON cannot hold written as text), one newline."""
    return json.dumps(report, indent=2, default=str) + "\n"


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


@dataclass(frozen=True)
class ReportCommand(Generic[Report]):
    """One target's ``report`` command: its own parts, the shared command line around them."""

    prog: str
    description: str | None
    #: The variable Meltano exports the plugin's ``database_url`` as, e.g. TARGET_CRM_DATABASE_URL.
    database_variable: str
    default_database_url: str
    #: A given URL as the target accepts it; raises ``config_error`` for one it refuses.
    validate_database_url: Callable[[str], str]
    config_error: type[Exception]
    load: Callable[[str, argparse.Namespace], Report]
    #: The text table, ending in a newline.
    render_table: Callable[[Report, argparse.Namespace], str]
    render_html: Callable[[str, Report, argparse.Namespace], str]
    verdict: Callable[[Report], Verdict]
    #: The target's own options, added after the shared ones.
    add_arguments: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)
    #: What the database is called in ``--database-url``'s help ("store", "books").
    database_noun: str = "database"

    def parser(self) -> argparse.ArgumentParser:
        """The shared options, then the target's own."""
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        parser.add_argument(
            "--database-url",
            help=f"SQLAlchemy URL of the {self.database_noun} (default: "
            f"${self.database_variable}, which Meltano sets from the plugin's database_url, "
            f"else {self.default_database_url})",
        )
        parser.add_argument("--shop", help="only this shop_domain")
        parser.add_argument("--format", choices=["table", "json", "html"], default="table")
        parser.add_argument("--output", type=Path, help="write the report to this file (html)")
        self.add_arguments(parser)
        return parser

    def run(self, argv: Sequence[str]) -> int:
        """Load, render and write the report.

        Args:
            argv: Arguments after ``report``.

        Returns:
            The process exit code: 0 when the verdict is a success, 1 when it is not, 2 for a
            configuration error (said on stderr, prefixed by ``prog``).
        """
        args = self.parser().parse_args(list(argv))
        try:
            url = h.report_database_url(
                args.database_url,
                variable=self.database_variable,
                default=self.default_database_url,
                validate=self.validate_database_url,
            )
        except self.config_error as error:
            sys.stderr.write(f"{self.prog}: {error}\n")
            return EXIT_CONFIG_ERROR
        report = self.load(url, args)
        if args.format == "html":
            out = self.render_html(url, report, args)
        elif args.format == "json":
            out = render_json(report)
        else:
            out = self.render_table(report, args)
        h.write_report(out, args.output)
        verdict = self.verdict(report)
        for note in verdict.notes:
            sys.stderr.write(f"{note}\n")
        return EXIT_OK if verdict.ok else EXIT_NOT_SUCCEEDED


def run_subcommand(argv: Sequence[str], commands: Mapping[str, Callable[[list[str]], int]]) -> None:
    """Run ``argv[1]`` when it names one of ``commands`` and exit with its code; else return.

    The Singer CLI (click) knows no subcommands, so an entry point calls this first and the
    target's ``cli`` after it. A command may import its module lazily, keeping the target's
    own start-up free of the report's imports.
    """
    if len(argv) > 1 and argv[1] in commands:
        raise SystemExit(commands[argv[1]](list(argv[2:])))


def run_singer_cli(command: Any, epilog: str) -> None:
    """The target's click command, with ``epilog`` (its subcommands' help) under ``--help``."""
    command.epilog = epilog
    command()
