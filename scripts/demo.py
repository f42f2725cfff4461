"""The demo sync: a demo store in the local emulator, synced by Meltano into SQLite.

Starts the emulator (seeded, so every run serves the same store), runs
``meltano run tap-shopify-history target-loyalty tap-shopify-history target-crm`` in the
``dev`` environment, prints both sync reports and stops the emulator. Run it again and the
incremental run adds nothing: Meltano kept the state.
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

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
DEMO_DIR = ROOT / ".demo"
OUTPUT_DIR = ROOT / "output"
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


def main() -> int:
    """Run the demo sync end to end."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=20000)
    arguments = parser.parse_args()
    OUTPUT_DIR.mkdir(exist_ok=True)
    emulator, served = start_emulator(arguments.customers, arguments.orders)
    try:
        say(f"emulator serving {served['shop_domain']} at {served['base_url']}")
        env = {
            **os.environ,
            "SHOPIFY_STORE_URL": served["base_url"],
            "SHOPIFY_ACCESS_TOKEN": served["token"],
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        say("installing the Meltano plugins (first run only takes a while)")
        run([str(BIN / "meltano"), "install"], env)
        say("meltano run tap-shopify-history target-loyalty tap-shopify-history target-crm")
        started = time.monotonic()
        run(
            [
                str(BIN / "meltano"),
                "--environment=dev",
                "run",
                "tap-shopify-history",
                "target-loyalty",
                "tap-shopify-history",
                "target-crm",
            ],
            env,
        )
        say(f"sync finished in {time.monotonic() - started:.1f} s")
        for target, database in (("target-loyalty", "loyalty.db"), ("target-crm", "crm.db")):
            print(f"\n== {target} report ==", flush=True)
            run(
                [
                    str(BIN / target),
                    "report",
                    "--database-url",
                    f"sqlite:///{OUTPUT_DIR / database}",
                ],
                env,
            )
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=30)
        say("emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
