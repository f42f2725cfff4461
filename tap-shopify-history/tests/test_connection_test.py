"""``tap-shopify-history --test`` (singer-sdk's connection test) reads one page per stream.

Issue: on a large store the connection test counted windows and waited for whole bulk jobs
before its first record. Now a capped run reads one small page per stream: no bulk job, no
count query, no manifest.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from shopify_emulator import generate_store
from tap_runner import TAP_EXE

# A bulk job on this store takes a minute of emulator time: the run must not start one.
BULK_SECONDS = 60.0


def test_connection_test_reads_one_page_per_stream(emulator_factory, tmp_path: Path) -> None:
    store = generate_store(seed=13, customers=3000, orders=20000)
    server = emulator_factory(store=store, bulk_seconds=BULK_SECONDS, plan="plus")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"store_url": server.base_url, "access_token": server.token}))
    server.control.reset_usage()
    result = subprocess.run(
        [str(TAP_EXE), "--config", str(config), "--test"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    records = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    assert records == {"customers": 1, "orders": 1, "customer_roster": 1}
    usage = server.control.usage()
    assert usage["bulk_operations"] == 0
    # shop info and one page per stream (the store's clock is read from those answers)
    assert usage["executed"] == 4, usage
    assert "unhandled error" not in result.stderr  # it stops at the limit, nothing aborts
