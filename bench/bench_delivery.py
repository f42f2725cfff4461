"""Benchmark delivery: events delivered per second against each platform's documented rate.

A CRM store is loaded once (SQLite, the Singer record builder): customers with
`--orders-per-customer` paid orders each, so each user brings 1 + N events (its
contact.created and its Order Placed events). Then the delivery engine drains it to each
stand-in over real HTTP, as target-crm does at the end of a run. Each stand-in runs in its
own process (`python -m platform_standins`), as a platform does not share the target's CPU;
it is steered and read through its HTTP control API. Figures are ratios to the
documented rate, in the same run:

- MoEngage: 30,000 events and 10,000 users per minute. For a short run the stand-in's window
  and the engine's are both shortened to `--moengage-window` seconds (default 6) with both
  limits scaled alike (3,000 events / 1,000 users per 6 s: the same 500 events/s and
  167 users/s), so the run spans several windows instead of one burst. With 4 orders per
  customer the events limit binds (5 events per user > 3).
- Ometria: 8 requests/s of at most 100 records. The stand-in keeps its documented limits.

The ratio printed is the shortest possible time over the time measured, where the shortest
possible time is when a client with no latency, sending the same requests in the same order
as soon as the documented sliding windows allow, would send the last one (1.00 = the
documented rate sustained).

    python bench/bench_delivery.py [--customers 2000] [--orders-per-customer 4]
        [--moengage-window 6]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from target_crm.delivery.engine import DeliveryEngine, Policy
from target_crm.delivery.moengage import EVENTS_PER_MINUTE, USERS_PER_MINUTE, MoEngageAdapter
from target_crm.delivery.ometria import REQUESTS_PER_SECOND, OmetriaAdapter
from target_crm.storage import create_store
from target_crm.target import TargetCRM
from testkit.singer_messages import SingerStore, manifest_messages, to_lines


class Standin:
    """A stand-in served by its own process, steered through `/_standin/<method>`."""

    def __init__(self, info: dict[str, str]) -> None:
        self.info = info
        self.base_url = info["base_url"]

    def control(self, method: str, **kwargs: Any) -> Any:
        """Call one control method over HTTP."""
        answer = requests.post(f"{self.base_url}/_standin/{method}", json=kwargs, timeout=60)
        answer.raise_for_status()
        return answer.json()["result"]


@contextlib.contextmanager
def standin_process(platform: str, folder: Path, *extra: str) -> Iterator[Standin]:
    """Start `python -m platform_standins <platform>` and wait until it serves."""
    ready = folder / f"{platform}.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "platform_standins", platform, "--ready-file", str(ready), *extra],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {platform} stand-in did not start")
            time.sleep(0.05)
        yield Standin(json.loads(ready.read_text()))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Sleeper:
    """time.sleep that adds up the time spent waiting (on the pacer or a retry)."""

    def __init__(self) -> None:
        self.slept = 0.0

    def __call__(self, seconds: float) -> None:
        self.slept += max(seconds, 0.0)
        time.sleep(seconds)


def load_store(url: str, customers: int, orders_per_customer: int) -> None:
    """Customers with paid orders: a contact.created and one Order Placed per order."""
    store = SingerStore(now=datetime.now(UTC) - timedelta(days=1))
    for i in range(1, customers + 1):
        store.customer(i)
        for n in range(orders_per_customer):
            store.order(1_000_000 + n * customers + i, i)
    messages = store.messages()
    lines = to_lines(messages + manifest_messages(messages, store.shop_domain, store.now))
    target = TargetCRM(config={"database_url": url, "destinations": ["moengage", "ometria"]})
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(lines))


def bench_moengage(url: str, window: float, folder: Path) -> None:
    scale = window / 60.0
    users, events = int(USERS_PER_MINUTE * scale), int(EVENTS_PER_MINUTE * scale)
    with standin_process("moengage", folder) as moe:
        moe.control(
            "configure",
            rate_window_seconds=window,
            users_per_minute=users,
            events_per_minute=events,
        )
        adapter = MoEngageAdapter(
            workspace_id=moe.info["workspace_id"],
            api_key=moe.info["api_key"],
            base_url=moe.base_url,
            identifier="email",
            resend_in_doubt=False,
            retention_days=None,
        )
        adapter.windows = {"users": (users, window), "events": (events, window)}
        sleeper = Sleeper()
        engine = DeliveryEngine(
            create_store(url), [adapter], "bench-moengage", Policy(), sleep=sleeper
        )
        started = time.monotonic()
        engine.drain()
        elapsed = time.monotonic() - started
        counts = moe.control("counts")
        accepted = moe.control("requests", outcome="accepted")
    sent, stored_users = counts["events_stored"], counts["customers_stored"]
    # Contacts go first (events need their profile), so the users limit binds first and the
    # events limit after: the shortest schedule of these very requests says what was possible.
    shortest = shortest_schedule(
        [{"users": r["users"], "events": r["events"]} for r in accepted],
        {"users": (users, window), "events": (events, window)},
    )
    limited = counts["requests_by_outcome"].get("rate_limited", 0)
    print(
        f"MoEngage: {sent} events + {stored_users} users in {counts['requests']} requests, "
        f"{elapsed:.1f} s (window {window:g} s: {events} events / {users} users); "
        f"{sent / elapsed:.0f} events/s against the documented {EVENTS_PER_MINUTE / 60:.0f}/s; "
        f"shortest possible {shortest:.1f} s: {shortest / elapsed:.2f} x the documented rate; "
        f"429 answers: {limited}; unpaced capacity {sent / busy(elapsed, sleeper):.0f} events/s "
        f"(time not spent waiting: {busy(elapsed, sleeper):.1f} s)"
    )


def busy(elapsed: float, sleeper: Sleeper) -> float:
    """Seconds spent working (building, sending, recording) rather than waiting."""
    return max(elapsed - sleeper.slept, 1e-9)


def shortest_schedule(
    requests_units: list[dict[str, int]], windows: dict[str, tuple[int, float]]
) -> float:
    """When the last of these requests could go out at the earliest, in this order.

    A client with no latency sends each request as soon as every sliding window (unit ->
    (most per window, window seconds)) has room for it: the documented rate, exactly.
    """
    now, history = 0.0, []  # (time sent, units)
    for units in requests_units:
        while True:
            blocking = []
            for unit, (limit, span) in windows.items():
                live = [(at, u[unit]) for at, u in history if at > now - span and u.get(unit)]
                if units.get(unit) and sum(n for _, n in live) + units[unit] > limit:
                    blocking.append(min(at for at, _ in live) + span)
            if not blocking:
                break
            now = max(now, min(blocking))
        history.append((now, units))
    return now


def bench_ometria(url: str, folder: Path) -> None:
    with standin_process("ometria", folder, "--processing-delay", "0") as om:
        adapter = OmetriaAdapter(
            api_key=om.info["api_key"],
            base_url=om.base_url,
            collection="bench",
            feedback_wait_seconds=0,
        )
        sleeper = Sleeper()
        engine = DeliveryEngine(
            create_store(url), [adapter], "bench-ometria", Policy(), sleep=sleeper
        )
        started = time.monotonic()
        engine.drain()
        elapsed = time.monotonic() - started
        pushes = [r for r in om.control("requests") if r["path"] == "/v2/push"]
    ok = [r for r in pushes if r["outcome"] == "ok"]
    records = sum(r["records"] for r in ok)
    limited = sum(1 for r in pushes if r["outcome"] in {"rate_limited", "queue_full"})
    shortest = shortest_schedule(
        [{"requests": 1}] * len(ok), {"requests": (REQUESTS_PER_SECOND, 1.0)}
    )
    print(
        f"Ometria: {records} records in {len(ok)} requests, {elapsed:.1f} s; "
        f"{records / elapsed:.0f} records/s, {len(ok) / elapsed:.2f} requests/s against the "
        f"documented {REQUESTS_PER_SECOND}/s; shortest possible {shortest:.1f} s: "
        f"{shortest / elapsed:.2f} x the documented rate; 429 answers: {limited}; unpaced "
        f"capacity {len(ok) / busy(elapsed, sleeper):.1f} requests/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders-per-customer", type=int, default=4)
    parser.add_argument("--moengage-window", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'crm.db'}"
        started = time.monotonic()
        load_store(url, args.customers, args.orders_per_customer)
        print(
            f"store: {args.customers} customers, {args.orders_per_customer} orders each, loaded in "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        bench_moengage(url, args.moengage_window, Path(tmp))
        bench_ometria(url, Path(tmp))


if __name__ == "__main__":
    main()
