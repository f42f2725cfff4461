"""The demo sync: a demo store in the local emulator, synced by Meltano into SQLite.

Starts the emulator (seeded, so every run serves the same store) and feeds two pipelines in
the ``dev`` environment: tap-shopify-history into target-loyalty and into target-crm. They
are two products (a loyalty programme and a CRM) that read the same Shopify data, so the
store is read once: the tap's Singer output is recorded and both targets read it, each
keeping its own Meltano state (``demo_pipelines``). The API cost of each step, read from the
emulator, is printed. Then both sync reports are printed and the emulator stopped. Run it
again and the incremental run adds nothing: Meltano kept the state.

Each store size has its own books and its own Meltano state: ``output/<customers>x<orders>/``
and the state id suffix ``demo-<customers>x<orders>``. The emulator serves every size under
the same shop domain, so one set of books fed two sizes would see most customers vanish.
Everything runs under umask 077: Meltano's per-run config files (``.meltano/run/``) hold the
token and stay behind if the run is killed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from demo_pipelines import describe, sync_both

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
DEMO_DIR = ROOT / ".demo"
OUTPUT_ROOT = ROOT / "output"
# Files Meltano and the targets write (config with secrets, books) are for this user only.
PRIVATE_UMASK = 0o077
# A fixed store clock: every start of the emulator serves the very same demo store, so the
# second `make demo` shows an incremental run that finds nothing new.
DEMO_STORE_TIME = "2026-11-01"


def say(message: str) -> None:
    """One progress line on stderr, so stdout stays the reports."""
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def start_emulator(customers: int, orders: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start ``shopify-emulator serve`` and wait for its ready file."""
    DEMO_DIR.mkdir(exist_ok=True)
    ready_file = DEMO_DIR / "emulator.json"
    ready_file.unlink(missing_ok=True)
    command = [
        str(BIN / "shopify-emulator"),
        "serve",
        "--port",
        "0",
        "--seed",
        "2026",
        "--customers",
        str(customers),
        "--orders",
        str(orders),
        # Plus plan rate limits (1,000 points/s), as a store with this much history has.
        "--plan",
        "plus",
        "--store-time",
        DEMO_STORE_TIME,
        "--ready-file",
        str(ready_file),
    ]
    say(f"starting the emulator: {customers:,} customers, {orders:,} orders")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not ready_file.exists():
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with code {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the emulator did not start within 300 s")
        time.sleep(0.2)
    return process, json.loads(ready_file.read_text())


def run(command: list[str], env: dict[str, str]) -> None:
    """Run one step, streaming its output; stop the demo if it fails."""
    result = subprocess.run(command, env=env, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed with code {result.returncode}")


def demo_paths(customers: int, orders: int, output_dir: Path | None) -> tuple[Path, str]:
    """Where one store size keeps its books, and the suffix of its Meltano state ids."""
    size = f"{customers}x{orders}"
    return (output_dir or OUTPUT_ROOT / size), f"demo-{size}"


def sync(env: dict[str, str], state_id_suffix: str, base_url: str) -> None:
    """``meltano install``, then both pipelines from one extraction, with their API cost."""
    say("installing the Meltano plugins (first run only takes a while)")
    run([str(BIN / "meltano"), "install"], env)
    say(f"one extraction into target-loyalty and target-crm (state id suffix {state_id_suffix})")
    started = time.monotonic()
    costs = sync_both(env, state_id_suffix, DEMO_DIR / state_id_suffix, base_url)
    for step, cost in costs.items():
        say(f"API cost of {step}: {describe(cost)}")
    say(f"sync finished in {time.monotonic() - started:.1f} s")


def main() -> int:
    """Run the demo sync end to end."""
    os.umask(PRIVATE_UMASK)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where the books go (default: output/<customers>x<orders>/)",
    )
    arguments = parser.parse_args()
    output_dir, state_id_suffix = demo_paths(
        arguments.customers, arguments.orders, arguments.output_dir
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    databases = {
        "target-loyalty": f"sqlite:///{output_dir.resolve() / 'loyalty.db'}",
        "target-crm": f"sqlite:///{output_dir.resolve() / 'crm.db'}",
    }
    emulator, served = start_emulator(arguments.customers, arguments.orders)
    try:
        say(f"emulator serving {served['shop_domain']} at {served['base_url']}")
        say(f"books in {output_dir}")
        env = {
            **os.environ,
            "SHOPIFY_STORE_URL": served["base_url"],
            "SHOPIFY_ACCESS_TOKEN": served["token"],
            "TARGET_LOYALTY_DATABASE_URL": databases["target-loyalty"],
            "TARGET_CRM_DATABASE_URL": databases["target-crm"],
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        sync(env, state_id_suffix, served["base_url"])
        for target, database_url in databases.items():
            print(f"\n== {target} report ==", flush=True)
            run([str(BIN / target), "report", "--database-url", database_url], env)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=30)
        say("emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
