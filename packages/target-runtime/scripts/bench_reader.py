"""Good-line throughput of singer-sdk's MsgSpecReader and ResilientSingerReader.

Run: ``.venv/bin/python packages/target-runtime/scripts/bench_reader.py``. It prints figures
and asserts nothing (timings on a shared machine vary).
"""

from __future__ import annotations

import io
import statistics
import time

from singer_sdk.contrib.msgspec import MsgSpecReader
from target_runtime.singer_input import ResilientSingerReader
from testkit.singer_messages import SingerStore, to_lines

KINDS = ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH")


def main(rounds: int = 6) -> None:
    """Print the median and best lines/s of each reader over ``rounds`` rounds."""
    store = SingerStore()
    for customer_id in range(1, 2001):
        store.customer(customer_id)
    for order_id in range(1, 6001):
        store.order(order_id, 1 + order_id % 2000, total="12.50")
    data = to_lines(store.messages(roster_version=1)).encode()
    callbacks = dict.fromkeys(KINDS, lambda message: None)
    rates: dict[str, list[float]] = {"MsgSpecReader": [], "ResilientSingerReader": []}
    for _ in range(rounds):
        for reader_class in (MsgSpecReader, ResilientSingerReader):
            reader = reader_class()
            source = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
            started = time.perf_counter()
            counts = reader.process_lines(source, callbacks)
            elapsed = time.perf_counter() - started
            rates[reader_class.__name__].append(sum(counts.values()) / elapsed)
    for name, values in rates.items():
        median, best = statistics.median(values), max(values)
        print(f"{name:22s} median {median:9,.0f}  best {best:9,.0f} lines/s")  # noqa: T201


if __name__ == "__main__":
    main()
