"""The shared ``report`` command line: options, database choice, formats, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from target_runtime.report_cli import ReportCommand, Verdict, run_subcommand

VARIABLE = "TARGET_EXAMPLE_DATABASE_URL"


class ExampleConfigError(Exception):
    pass


def refuse_blank(given: str) -> str:
    if not given.strip():
        raise ExampleConfigError(f"database_url is empty (${VARIABLE}?)")
    return given


def command(calls: list[Any], *, ok: bool = True) -> ReportCommand[dict[str, Any]]:
    def load(url: str, args: argparse.Namespace) -> dict[str, Any]:
        calls.append((url, args.shop, args.run))
        return {"url": url, "ok": ok, "when": Path("x")}

    def add_run(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run")

    return ReportCommand(
        prog="target-example report",
        description="An example.",
        database_variable=VARIABLE,
        default_database_url="sqlite:///default.db",
        validate_database_url=refuse_blank,
        config_error=ExampleConfigError,
        load=load,
        render_table=lambda report, args: f"table {report['url']}\n",
        render_html=lambda url, report, args: f"<p>{url} {args.shop}</p>",
        verdict=lambda report: Verdict(report["ok"], [] if report["ok"] else ["not succeeded: x"]),
        add_arguments=add_run,
        database_noun="store",
    )


def test_default_database_then_variable_then_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []
    monkeypatch.delenv(VARIABLE, raising=False)
    assert command(calls).run([]) == 0
    monkeypatch.setenv(VARIABLE, "sqlite:///from-meltano.db")
    assert command(calls).run(["--shop", "a.myshopify.com", "--run", "r1"]) == 0
    assert command(calls).run(["--database-url", "sqlite:///given.db"]) == 0
    assert calls == [
        ("sqlite:///default.db", None, None),
        ("sqlite:///from-meltano.db", "a.myshopify.com", "r1"),
        ("sqlite:///given.db", None, None),
    ]
    assert capsys.readouterr().out == (
        "table sqlite:///default.db\ntable sqlite:///from-meltano.db\ntable sqlite:///given.db\n"
    )


def test_blank_database_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []
    monkeypatch.setenv(VARIABLE, " ")
    assert command(calls).run([]) == 2
    assert calls == []
    assert capsys.readouterr().err == (
        f"target-example report: database_url is empty (${VARIABLE}?)\n"
    )


def test_json_and_html_formats_and_output_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert command([]).run(["--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "url": "sqlite:///default.db",
        "ok": True,
        "when": "x",
    }
    page = tmp_path / "deep" / "report.html"
    assert command([]).run(["--format", "html", "--shop", "s", "--output", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == "<p>sqlite:///default.db s</p>"
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"report written to {page}\n")


def test_exit_code_and_notes_follow_the_verdict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert command([], ok=False).run([]) == 1
    assert capsys.readouterr().err == "not succeeded: x\n"


def test_help_names_the_variable_and_the_targets_own_options() -> None:
    text = command([]).parser().format_help()
    assert f"${VARIABLE}" in text
    assert "URL of the store" in text
    assert "--run" in text


def test_subcommand_runs_only_when_named() -> None:
    seen: list[list[str]] = []

    def report(argv: list[str]) -> int:
        seen.append(argv)
        return 3

    run_subcommand(["target-example", "--config", "c.json"], {"report": report})
    assert seen == []
    with pytest.raises(SystemExit) as stopped:
        run_subcommand(["target-example", "report", "--shop", "s"], {"report": report})
    assert (stopped.value.code, seen) == (3, [["--shop", "s"]])
