"""The end-to-end benchmark: `meltano run` from an emulated store into each target; prints figures.

Starts the Shopify emulator with a seeded store (200,000 orders on the Plus plan by default)
and runs, in a temporary Meltano project made from the repository's ``meltano.yml`` (its own
system directory, so its own state and ``.meltano/run/``; fresh SQLite databases each run):

    meltano run tap-shopify-history target-loyalty
    meltano run tap-shopify-history target-crm

For each pipeline it prints orders/s end to end (the store's orders over the wall time of
``meltano run``), each process's CPU seconds and peak RSS (tap, target, and meltano itself,
which relays every line from the tap to the target), next to the same pipeline on
singer-sdk's default path (the baseline, measured in the same run): the tap with the SDK's
default writer and recursive type conformance (as bench/bench_tap.py builds it), the
targets with ``validate_records: true`` (as bench/bench_loyalty.py and bench_crm.py do),
given through Meltano's ``TARGET_*_VALIDATE_RECORDS`` variables. Ratios are ours / SDK
default. A figure is printed only for a pipeline whose target report says succeeded.

How it measures: each plugin's executable in the temporary project is a small wrapper
(``bench_e2e.py _wrap``) that runs the real plugin from the workspace venv as its only
child and, when it exits, writes ``getrusage(RUSAGE_CHILDREN)`` (CPU, ru_maxrss) to a file.
Meltano's own CPU is its ``wait4`` total less the wrappers'; its peak RSS is its
``VmHWM``, polled until it exits. The emulator's CPU during each run (from
``/proc/<pid>/stat``) is printed too: it shares the machine and bounds the wall figure.
The plugins run from the workspace venv (the same locked versions as ``meltano install``
puts in the plugins' own venvs), so nothing is installed.

    .venv/bin/python bench/bench_e2e.py [--orders 200000] [--customers 40000] [--plan plus]
        [--skip-crm] [--skip-baseline] [--bulk-seconds 0.05]

Bulk jobs are completed after ``--bulk-seconds`` (the emulator's default is 2 s), so the
wall time measures the suite and the emulator, not a simulated wait for Shopify.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCRIPT = Path(__file__).resolve()
#: The variable through which the wrappers learn where to write their figures.
RUSAGE_DIR_VARIABLE = "BENCH_E2E_RUSAGE_DIR"
#: A fixed store clock, as the demo uses: every start serves the very same store.
STORE_TIME = "2026-11-01"
SEED = 2026
# Meltano's per-run config files hold the emulator's token; keep them (and the books) private.
PRIVATE_UMASK = 0o077
TARGETS = ("target-loyalty", "target-crm")
#: What ``--rev`` takes from git: the code every process of a pipeline imports, and the project.
SOURCE_PATHS = (
    "tap-shopify-history",
    "target-loyalty",
    "target-crm",
    "packages/target-runtime",
    "packages/shopify-webhooks",
    "packages/shopify-emulator",
)
VARIANTS = ("ours", "sdk default")


# --- inside Meltano: the wrappers ---------------------------------------------------------


def wrap(role: str, command: list[str]) -> int:
    """Run ``command`` as the only child, inheriting stdin/stdout; record its rusage."""
    started = time.perf_counter()
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    returncode = child.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "role": role,
        "discover": "--discover" in command,
        "returncode": returncode,
        "wall": time.perf_counter() - started,
        "cpu": children.ru_utime + children.ru_stime,
        "maxrss_kb": children.ru_maxrss,
        "wrapper_cpu": own.ru_utime + own.ru_stime,
    }
    folder = Path(os.environ[RUSAGE_DIR_VARIABLE])
    (folder / f"{role}-{os.getpid()}.json").write_text(json.dumps(figures))
    return returncode


def sdk_default_tap() -> None:
    """tap-shopify-history on singer-sdk's default path: its writer, recursive conformance."""
    from singer_sdk.helpers.conform import TypeConformanceLevel  # noqa: PLC0415
    from singer_sdk.io_base import SingerWriter  # noqa: PLC0415
    from tap_shopify_history.streams.base import ShopifyStream  # noqa: PLC0415
    from tap_shopify_history.tap import TapShopifyHistory  # noqa: PLC0415

    ShopifyStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
    TapShopifyHistory.message_writer_class = SingerWriter
    TapShopifyHistory.cli()


# --- the benchmark --------------------------------------------------------------------------


def say(message: str) -> None:
    """Progress on stderr; stdout holds the figures."""
    print(f"[bench_e2e] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def emulator(args: argparse.Namespace, workdir: Path) -> Iterator[dict[str, Any]]:
    """``shopify-emulator serve`` with the seeded store, until the block ends (and its pid)."""
    ready = workdir / "emulator.json"
    command = [
        str(BIN / "shopify-emulator"),
        "serve",
        "--port",
        "0",
        "--seed",
        str(SEED),
        "--customers",
        str(args.customers),
        "--orders",
        str(args.orders),
        "--plan",
        args.plan,
        "--bulk-seconds",
        str(args.bulk_seconds),
        "--store-time",
        STORE_TIME,
        "--ready-file",
        str(ready),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not ready.exists():
            if process.poll() is not None:
                raise SystemExit(f"the emulator exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit("the emulator did not start within 600 s")
            time.sleep(0.2)
        yield json.loads(ready.read_text()) | {"pid": process.pid}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrapper_script(path: Path, script: Path, role: str, command: list[str]) -> str:
    """An executable shell script that runs ``command`` under :func:`wrap`; returns its path."""
    quoted = " ".join(f"'{part}'" for part in [sys.executable, str(script), "_wrap", role])
    real = " ".join(f"'{part}'" for part in command)
    path.write_text(f'#!/bin/sh\nexec {quoted} {real} "$@"\n')
    path.chmod(0o700)
    return str(path)


def checkout(rev: str, folder: Path) -> str:
    """Extract ``rev``'s packages and meltano.yml into ``folder``; put them first on PYTHONPATH.

    The workspace venv's editable installs are plain ``.pth`` paths into the working tree,
    which ``PYTHONPATH`` precedes, so every child (emulator, meltano's plugins, the reports)
    imports the commit's code instead of whatever the working tree holds at that moment.
    """
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "meltano.yml", *SOURCE_PATHS],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    paths = [str(folder / path) for path in SOURCE_PATHS]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [*paths, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return describe_code(rev)


def describe_code(rev: str | None) -> str:
    """Which code is measured: a commit, or the working tree (and whether it has changes)."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev or "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if rev:
        return f"commit {commit}"
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", *SOURCE_PATHS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"working tree at {commit}" + (" with uncommitted changes" if changed else "")


def make_project(folder: Path, variant: str, source: Path) -> Path:
    """A Meltano project of the repository's three base plugins, run through the wrappers.

    The plugins keep their definitions (settings, capabilities) from ``meltano.yml`` but
    lose ``pip_url``, so Meltano runs the executable given instead of a venv of its own.
    """
    import yaml  # noqa: PLC0415  (Meltano's dependency; only the parent process needs it)

    project = yaml.safe_load((source / "meltano.yml").read_text())
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    # The wrappers run a copy of this file: editing it during a long run changes nothing.
    script = bin_dir / "bench_e2e.py"
    shutil.copyfile(SCRIPT, script)
    tap = (
        [sys.executable, str(script), "_sdk_default_tap"]
        if variant == "sdk default"
        else [str(BIN / "tap-shopify-history")]
    )
    commands = {"tap-shopify-history": tap} | {t: [str(BIN / t)] for t in TARGETS}
    keep = set(commands)
    for kind in ("extractors", "loaders"):
        plugins = [p for p in project["plugins"][kind] if p["name"] in keep]
        for plugin in plugins:
            plugin.pop("pip_url", None)
            role = "tap" if kind == "extractors" else "target"
            plugin["executable"] = wrapper_script(
                bin_dir / plugin["name"], script, role, commands[plugin["name"]]
            )
        project["plugins"][kind] = plugins
    for environment in project.get("environments", []):
        for kind, plugins in environment.get("config", {}).get("plugins", {}).items():
            environment["config"]["plugins"][kind] = [p for p in plugins if p["name"] in keep]
    for key in ("jobs", "schedules"):
        project.pop(key, None)
    (folder / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


@dataclass(frozen=True)
class Process:
    """One process's CPU seconds and peak RSS in MB."""

    cpu: float
    peak_mb: float


@dataclass(frozen=True)
class PipelineRun:
    """What one ``meltano run`` cost."""

    target: str
    variant: str
    wall: float
    orders: int
    tap: Process
    tap_discover: Process | None
    target_process: Process
    meltano: Process
    emulator_cpu: float
    applied: int

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.wall


def peak_rss_kb(pid: int) -> int:
    """The process's VmHWM (peak resident set) in kB, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def run_meltano(
    project: Path, env: dict[str, str], log: Path, timeout: float
) -> tuple[float, int, Any, int]:
    """``meltano run``: wall seconds, exit code, its wait4 rusage, its peak RSS in kB.

    After ``timeout`` seconds meltano is stopped (SIGTERM, which it passes to the plugins)
    and the benchmark fails: a hung pipeline never yields a figure.
    """
    command = [str(BIN / "meltano"), "--environment=dev", "run", *env["BENCH_E2E_PIPELINE"].split()]
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_rss_kb(process.pid))
            if time.perf_counter() - started > timeout:
                process.terminate()
                os.waitpid(process.pid, 0)
                process.returncode = -signal.SIGTERM
                raise SystemExit(f"meltano run did not finish within {timeout:.0f} s: see {log}")
            time.sleep(0.1)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, process.returncode, usage, peak


def check_report(target: str, database_url: str) -> int:
    """Fail unless the target's report says the run succeeded; return the orders it holds."""
    result = subprocess.run(
        [str(BIN / target), "report", "--format", "json", "--database-url", database_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{target} report: the run did not succeed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    if target == "target-loyalty":
        (latest, *_) = report["runs"]
        if latest["status"] != "succeeded":
            raise SystemExit(f"{target}: the latest run is {latest['status']}")
        return int(latest["orders_synced"])
    if report["outcome"] != "succeeded" or not report["ok"]:
        raise SystemExit(f"{target}: the run is {report['outcome']}, checks {report['ok']}")
    return int(report["store"]["orders"])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a running process, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_pipeline(
    project: Path, target: str, variant: str, served: dict[str, Any], args: argparse.Namespace
) -> PipelineRun:
    """One ``meltano run tap-shopify-history <target>`` into a fresh SQLite database."""
    work = Path(tempfile.mkdtemp(prefix=f"{target}-", dir=project))
    rusage_dir = work / "rusage"
    rusage_dir.mkdir()
    database_url = f"sqlite:///{work / 'books.db'}"
    variable = target.upper().replace("-", "_")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MELTANO_")}
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
            "SHOPIFY_STORE_URL": served["base_url"],
            "SHOPIFY_ACCESS_TOKEN": served["token"],
            f"{variable}_DATABASE_URL": database_url,
            f"{variable}_VALIDATE_RECORDS": "true" if variant == "sdk default" else "false",
            RUSAGE_DIR_VARIABLE: str(rusage_dir),
            "BENCH_E2E_PIPELINE": f"tap-shopify-history {target}",
        }
    )
    say(f"meltano run tap-shopify-history {target} ({variant})")
    log = work / "meltano.log"
    emulator_before = cpu_seconds(served["pid"])
    wall, returncode, usage, meltano_peak = run_meltano(project, env, log, args.timeout)
    emulator_cpu = cpu_seconds(served["pid"]) - emulator_before
    if returncode != 0:
        tail = log.read_text(errors="replace")[-6000:]
        raise SystemExit(f"meltano run ... {target} ({variant}) exited {returncode}:\n{tail}")
    applied = check_report(target, database_url)
    records = [json.loads(p.read_text()) for p in sorted(rusage_dir.glob("*.json"))]
    failed = [r for r in records if r["returncode"] != 0]
    if failed:
        raise SystemExit(f"a plugin exited non-zero inside a run Meltano ended 0: {failed}")

    def process(role: str, *, discover: bool = False) -> Process | None:
        chosen = [r for r in records if r["role"] == role and r["discover"] == discover]
        if not chosen:
            return None
        return Process(
            cpu=sum(r["cpu"] for r in chosen),
            peak_mb=max(r["maxrss_kb"] for r in chosen) / 1024,
        )

    tap, target_process = process("tap"), process("target")
    if tap is None or target_process is None:
        raise SystemExit(f"no figures from the tap or the target's wrapper: {records}")
    under_wrappers = sum(r["cpu"] + r["wrapper_cpu"] for r in records)
    total = usage.ru_utime + usage.ru_stime
    return PipelineRun(
        target=target,
        variant=variant,
        wall=wall,
        orders=args.orders,
        tap=tap,
        tap_discover=process("tap", discover=True),
        target_process=target_process,
        meltano=Process(cpu=total - under_wrappers, peak_mb=meltano_peak / 1024),
        emulator_cpu=emulator_cpu,
        applied=applied,
    )


COLUMNS = (
    ("wall s", lambda r: r.wall, "{:8.1f}"),
    ("orders/s", lambda r: r.orders_per_second, "{:8.0f}"),
    ("tap cpu s", lambda r: r.tap.cpu, "{:9.1f}"),
    ("tap MB", lambda r: r.tap.peak_mb, "{:7.0f}"),
    ("target cpu s", lambda r: r.target_process.cpu, "{:12.1f}"),
    ("target MB", lambda r: r.target_process.peak_mb, "{:9.0f}"),
    ("meltano cpu s", lambda r: r.meltano.cpu, "{:13.1f}"),
    ("meltano MB", lambda r: r.meltano.peak_mb, "{:10.0f}"),
    ("emulator cpu s", lambda r: r.emulator_cpu, "{:14.1f}"),
)


def print_table(runs: list[PipelineRun]) -> None:
    """One block per pipeline: ours, the SDK default, and ours / SDK default."""
    header = f"{'':<26}" + " ".join(f"{name:>{len(fmt.format(0))}}" for name, _, fmt in COLUMNS)
    for target in TARGETS:
        mine = {r.variant: r for r in runs if r.target == target}
        if not mine:
            continue
        print(f"\nmeltano run tap-shopify-history {target}")
        print(header)
        for variant, run in mine.items():
            cells = " ".join(fmt.format(value(run)) for _, value, fmt in COLUMNS)
            print(f"  {variant:<24}{cells}")
        if len(mine) == len(VARIANTS):
            ours, base = mine["ours"], mine["sdk default"]
            cells = " ".join(
                f"{value(ours) / value(base):>{len(fmt.format(0))}.2f}"
                if value(base)
                else f"{'-':>{len(fmt.format(0))}}"
                for _, value, fmt in COLUMNS
            )
            print(f"  {'ours / sdk default':<24}{cells}")
        for run in mine.values():
            discover = run.tap_discover
            extra = (
                f"; tap --discover {discover.cpu:.1f} cpu s (in meltano's run, not in tap cpu)"
                if discover
                else ""
            )
            print(f"  {run.variant}: {run.applied:,} orders in the books{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--plan", default="plus", choices=["standard", "advanced", "plus"])
    parser.add_argument("--bulk-seconds", type=float, default=0.05)
    parser.add_argument("--skip-crm", action="store_true", help="only target-loyalty")
    parser.add_argument("--skip-baseline", action="store_true", help="only our settings")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds one meltano run may take"
    )
    parser.add_argument(
        "--rev",
        help="measure this commit's code (git archive), not the working tree as it is",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    os.umask(PRIVATE_UMASK)
    targets = TARGETS[:1] if args.skip_crm else TARGETS
    variants = VARIANTS[:1] if args.skip_baseline else VARIANTS
    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    load = os.getloadavg()
    runs: list[PipelineRun] = []
    try:
        source = workdir / "source" if args.rev else ROOT
        code = checkout(args.rev, source) if args.rev else describe_code(None)
        projects = {v: make_project(workdir / v.replace(" ", "-"), v, source) for v in variants}
        say(f"starting the emulator: {args.customers:,} customers, {args.orders:,} orders")
        with emulator(args, workdir) as served:
            for target in targets:
                for variant in variants:
                    run = run_pipeline(projects[variant], target, variant, served, args)
                    runs.append(run)
                    say(
                        f"  {run.wall:.1f} s, {run.orders_per_second:.0f} orders/s; cpu s: tap "
                        f"{run.tap.cpu:.1f}, target {run.target_process.cpu:.1f}, meltano "
                        f"{run.meltano.cpu:.1f}, emulator {run.emulator_cpu:.1f}"
                    )
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"end to end: {args.orders:,} orders, {args.customers:,} customers, {args.plan} plan, "
        f"bulk jobs {args.bulk_seconds} s; code: {code}; load average before "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print_table(runs)
    print(
        json.dumps(
            {
                "args": vars(args),
                "code": code,
                "runs": [
                    {
                        "target": r.target,
                        "variant": r.variant,
                        "wall": round(r.wall, 2),
                        "orders_per_second": round(r.orders_per_second, 1),
                        "orders_in_books": r.applied,
                        "emulator_cpu": round(r.emulator_cpu, 2),
                        **{
                            f"{name}_{field}": round(getattr(getattr(r, attr), field), 2)
                            for name, attr in (
                                ("tap", "tap"),
                                ("target", "target_process"),
                                ("meltano", "meltano"),
                            )
                            for field in ("cpu", "peak_mb")
                        },
                    }
                    for r in runs
                ],
            }
        )
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_wrap"]:
        sys.exit(wrap(sys.argv[2], sys.argv[3:]))
    if sys.argv[1:2] == ["_sdk_default_tap"]:
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        sdk_default_tap()
        sys.exit(0)
    sys.exit(main())
