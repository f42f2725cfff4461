"""Run the tap in-process (or as a subprocess) and collect its Singer messages."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_shopify_history.tap import TapShopifyHistory

TAP_EXE = Path(sys.executable).parent / "tap-shopify-history"


@dataclass
class TapOutput:
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str) -> list[int]:
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, Any]:
        return self.states[-1]

    def types(self, stream: str) -> list[str]:
        return [m["type"] for m in self.messages if m.get("stream") == stream]


def parse(stdout: bytes) -> TapOutput:
    return TapOutput([json.loads(line) for line in stdout.splitlines() if line.strip()])


def run_tap(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    *,
    expect_error: bool = False,
    catalog: dict[str, Any] | None = None,
) -> TapOutput:
    """Sync every stream in-process; raises what the tap raises unless ``expect_error``."""
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8")
    tap = TapShopifyHistory(config=config, state=state, catalog=catalog, parse_env_config=False)
    error: BaseException | None = None
    with contextlib.redirect_stdout(text):
        try:
            tap.sync_all()
        except Exception as caught:
            if not expect_error:
                raise
            error = caught
        finally:
            text.flush()
    output = parse(buffer.getvalue())
    output.error = error
    if expect_error and error is None:
        raise AssertionError("the tap was expected to fail but succeeded")
    return output


def start_tap_process(config_path: Path, state_path: Path | None = None) -> subprocess.Popen:
    args = [str(TAP_EXE), "--config", str(config_path)]
    if state_path is not None:
        args += ["--state", str(state_path)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
