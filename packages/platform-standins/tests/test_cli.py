"""``python -m platform_standins``: serves until terminated, announcing where and how."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests


@pytest.mark.parametrize("platform", ["moengage", "ometria"])
def test_cli_serves_until_terminated(tmp_path, platform):
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "platform_standins",
            platform,
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "stand-in did not start"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["platform"] == platform
        counts = requests.post(f"{info['base_url']}/_standin/counts", json={}, timeout=10)
        assert counts.json()["result"]["requests"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert f"base_url: {info['base_url']}" in out
