"""The demo's two pipelines from one extraction: the store's API budget is spent once.

target-loyalty and target-crm are two products fed by the same tap. Running
``meltano run tap-shopify-history target-loyalty tap-shopify-history target-crm`` reads the
store twice: the second read costs the same API points and bulk jobs for the very same
records. Here the tap's Singer output is recorded once (``meltano invoke``) and both targets
read the recording; each target's last STATE goes to its own Meltano state id, exactly as
``meltano run`` would store it.

That is correct only while both pipelines stand at the same state (the recording starts
from it). When they differ (one of them failed or was run alone), each pipeline extracts for
itself with ``meltano run``, as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(ROOT / ".venv" / "bin" / "meltano")
TAP = "tap-shopify-history"
TARGETS = ("target-loyalty", "target-crm")


def api_usage(base_url: str) -> dict[str, int]:
    """What the emulator's apps have spent on the Admin API so far (its control API)."""
    url = f"{base_url}/_emulator/usage"  # the local emulator's http:// control API
    request = urllib.request.Request(url, data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        result: dict[str, int] = json.load(answer)["result"]
    return result


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The usage between two readings."""
    return {key: after[key] - before.get(key, 0) for key in after}


def describe(cost: dict[str, int]) -> str:
    """One reading for people: requests, cost points, bulk operations."""
    return (
        f"{cost['requests']:,} Shopify API requests, {cost['actual_cost']:,} cost points, "
        f"{cost['bulk_operations']:,} bulk operations"
    )


def state_id(target: str, suffix: str) -> str:
    """The Meltano state id ``meltano run`` uses for the tap into ``target``."""
    return f"dev:{TAP}-to-{target}:{suffix}"


def _meltano(arguments: list[str], env: dict[str, str], **kwargs: Any) -> bytes:
    result = subprocess.run(
        [MELTANO, "--environment=dev", *arguments], env=env, cwd=ROOT, check=False, **kwargs
    )
    if result.returncode != 0:
        raise SystemExit(
            f"meltano {' '.join(arguments[:2])} ... failed with code {result.returncode}"
        )
    return result.stdout or b""


def read_state(state: str, env: dict[str, str]) -> dict[str, Any]:
    """The state Meltano holds under ``state`` (``{}`` when there is none)."""
    out = _meltano(["state", "get", state], env, stdout=subprocess.PIPE)
    return json.loads(out or b"{}")  # type: ignore[no-any-return]


def last_state(target_output: bytes) -> dict[str, Any] | None:
    """The last state a target confirmed: targets write each one as a JSON line on stdout.

    (Meltano stores the same line after ``meltano run``.) A wrapped Singer STATE message is
    unwrapped, in case a target writes those.
    """
    value = None
    for line in target_output.splitlines():
        if line.strip().startswith(b"{"):
            state = json.loads(line)
            value = state["value"] if state.get("type") == "STATE" else state
    return value


def run_separately(
    env: dict[str, str], suffix: str, measure: Callable[[], dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Each pipeline extracts for itself (``meltano run``): the fallback."""
    costs = {}
    for target in TARGETS:
        before = measure()
        _meltano(["run", f"--state-id-suffix={suffix}", TAP, target], env)
        costs[target] = spent(before, measure())
    return costs


def run_shared(
    env: dict[str, str],
    suffix: str,
    work_dir: Path,
    state: dict[str, Any],
    measure: Callable[[], dict[str, int]],
) -> dict[str, dict[str, int]]:
    """Extract once from ``state``, then feed the recording to both targets.

    Returns:
        The API usage of the extraction (``extract``) and of each target's load.
    """
    catalog, state_file = work_dir / "catalog.json", work_dir / "state.json"
    recording = work_dir / "extract.singer"
    catalog.write_bytes(_meltano(["invoke", "--dump=catalog", TAP], env, stdout=subprocess.PIPE))
    # Always a --state of ours (possibly {}): `meltano invoke` with arguments would otherwise
    # pass a state.json left in .meltano/run/ by an earlier run.
    state_file.write_text(json.dumps(state.get("singer_state") or {}))
    costs = {}
    before = measure()
    with recording.open("wb") as out:
        _meltano(
            ["invoke", TAP, "--catalog", str(catalog), "--state", str(state_file)], env, stdout=out
        )
    costs["extract"] = spent(before, measure())
    try:
        for target in TARGETS:
            before = measure()
            with recording.open("rb") as records:
                result = subprocess.run(
                    [MELTANO, "--environment=dev", "invoke", target],
                    env=env,
                    cwd=ROOT,
                    stdin=records,
                    stdout=subprocess.PIPE,
                    check=False,
                )
            costs[target] = spent(before, measure())
            # What the target confirmed is stored even when it failed, as `meltano run` does;
            # the states then differ and the next demo extracts per pipeline.
            confirmed = last_state(result.stdout)
            if confirmed is not None:
                value = json.dumps({"singer_state": confirmed})
                _meltano(["state", "set", "--force", state_id(target, suffix), value], env)
            if result.returncode != 0:
                raise SystemExit(f"{target} failed with code {result.returncode}")
    finally:
        for path in (catalog, state_file, recording):
            path.unlink(missing_ok=True)  # the recording holds customer data
    return costs


def sync_both(
    env: dict[str, str], suffix: str, work_dir: Path, base_url: str
) -> dict[str, dict[str, int]]:
    """Both pipelines, from one extraction when their states agree.

    Returns:
        API usage per step (``extract`` and each target, or each target's own pipeline).
    """

    def measure() -> dict[str, int]:
        return api_usage(base_url)

    states = {target: read_state(state_id(target, suffix), env) for target in TARGETS}
    if states["target-loyalty"] != states["target-crm"]:
        print(
            "[demo] the two pipelines' states differ (one failed or ran alone): each extracts "
            "for itself this time",
            file=sys.stderr,
            flush=True,
        )
        return run_separately(env, suffix, measure)
    work_dir.mkdir(parents=True, exist_ok=True)
    return run_shared(env, suffix, work_dir, states["target-loyalty"], measure)


def write_html_reports(books: Path) -> list[Path]:
    """Each target's HTML sync report of the demo books, through ``meltano invoke``.

    ``<target>:report`` is the plugins' Meltano command; it reads the database Meltano
    hands the plugin ($TARGET_*_DATABASE_URL, set here to the demo's books).
    """
    env = {
        **os.environ,
        "TARGET_LOYALTY_DATABASE_URL": f"sqlite:///{books.resolve() / 'loyalty.db'}",
        "TARGET_CRM_DATABASE_URL": f"sqlite:///{books.resolve() / 'crm.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    written = []
    for target in TARGETS:
        page = books.resolve() / f"{target}-report.html"
        # Exit code 1 means the latest run did not succeed: the page says so; still show it.
        subprocess.run(
            [MELTANO, "--environment=dev", "invoke", f"{target}:report", "--format", "html",
             "--output", str(page)],
            env=env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if page.exists():
            written.append(page)
    return written


if __name__ == "__main__":
    # `make demo` ends here: python scripts/demo_pipelines.py output/<customers>x<orders>
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "output" / "3000x20000"
    # The pages list customers by name: private like the books beside them (demo.sh, umask 077).
    os.umask(0o077)
    pages = write_html_reports(folder)
    for path in pages:
        print(f"HTML sync report: {path}", flush=True)
    sys.exit(0 if len(pages) == len(TARGETS) else 1)
