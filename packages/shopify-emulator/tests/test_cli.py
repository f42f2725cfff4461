"""The ``shopify-emulator`` command and the demo module, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent / "shopify-emulator"


def test_help_lists_every_option():
    out = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, check=True)
    for option in (
        "--port", "--seed", "--customers", "--orders", "--plan", "--api-versions",
        "--index-lag-seconds", "--bulk-seconds", "--fault", "--ready-file", "--store-time",
    ):  # fmt: skip
        assert option in out.stdout


def test_serve_writes_ready_file_and_answers(tmp_path):
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [BIN, "serve", "--port", "0", "--seed", "3", "--customers", "5", "--orders", "20",
         "--plan", "plus", "--ready-file", str(ready), "--fault", "throttle=0"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["shop_domain"] == "demo-store.myshopify.com"
        response = requests.post(
            f"{info['base_url']}/admin/api/2025-01/graphql.json",
            json={"query": "{ customersCount { count } }"},
            headers={"X-Shopify-Access-Token": info["token"]},
            timeout=10,
        )
        assert response.json()["data"]["customersCount"]["count"] == 5
        assert response.json()["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 20000
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert info["base_url"] in out
    assert info["token"] in out
    assert proc.returncode == 0


def test_bad_fault_is_a_usage_error():
    out = subprocess.run(
        [BIN, "serve", "--fault", "meteor=1"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "unknown fault" in out.stderr


def test_demo_prints_what_it_serves():
    out = subprocess.run(
        [sys.executable, "-m", "shopify_emulator.demo"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "served over HTTP: 3000 customers, 25000 orders" in out.stdout
    assert "guest orders:" in out.stdout
