"""The retry path: its delays, and a real 5xx and dropped connection survived over HTTP."""

from __future__ import annotations

import json
import subprocess

import pytest
from shopify_emulator import generate_store
from tap_runner import TAP_EXE, parse
from tap_shopify_history.shopify.client import backoff_delay
from tap_truth import assert_matches_snapshot


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [
        (0, 0.0, 0.0),
        (0, 0.5, 0.25),
        (1, 0.5, 0.5),
        (3, 1.0, 4.0),
        (6, 1.0, 30.0),
        (1_000, 0.5, 15.0),
    ],
    ids=["no-jitter", "first", "second", "fourth", "capped", "huge-attempt"],
)
def test_backoff_delay_is_exponential_with_full_jitter(attempt, jitter, delay) -> None:
    assert backoff_delay(attempt, jitter=lambda: jitter) == delay


def test_first_retry_delay_is_a_number() -> None:
    # backoff 2.2.1's expo() first yields None: the tap's first retry raised TypeError.
    assert 0.0 <= backoff_delay(0) < 0.5


@pytest.mark.parametrize("fault", ["error_next", "drop_next"], ids=["http-503", "dropped"])
def test_the_installed_tap_retries_a_fault_once_and_completes(
    emulator_factory, tmp_path, fault
) -> None:
    server = emulator_factory(store=generate_store(seed=5, customers=6, orders=10))
    config = tmp_path / "config.json"
    settings = {
        "store_url": server.base_url,
        "access_token": server.token,
        "extraction_mode": "paginated",
    }
    config.write_text(json.dumps(settings))
    server.control.set_faults(**{fault: 1})  # the first request fails once
    result = subprocess.run(
        [str(TAP_EXE), "--config", str(config)], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stderr.count(b"Retrying Shopify request") == 1
    assert_matches_snapshot(parse(result.stdout), server.control.snapshot())
