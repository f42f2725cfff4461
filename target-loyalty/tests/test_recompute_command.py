"""`target-loyalty recompute`: the installed command recomputes every account under new rules."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from loyalty_records import SHOP, Messages, at, customer, manifest_for, order, query, run_target

BIN = Path(sys.executable).parent
AS_OF = "2024-06-01T00:00:00Z"
SPEND = {1: "90.00", 2: "120.00", 3: "300.00"}


def _config(url: str, gold_at: str) -> dict[str, Any]:
    return {
        "database_url": url,
        "tiers": [
            {"name": "Bronze", "entry_threshold": "0", "cashback_percent": "0"},
            {"name": "Gold", "entry_threshold": gold_at, "cashback_percent": "0"},
        ],
        "tier_evaluation_period": "rolling_12_months",
        "as_of": AS_OF,
    }


def _expected_tiers(gold_at: str) -> dict[int, str]:
    # The documented rule: the highest tier whose entry threshold the net spend reaches.
    return {c: "Gold" if Decimal(s) >= Decimal(gold_at) else "Bronze" for c, s in SPEND.items()}


def _tiers(url: str) -> dict[int, str]:
    rows = query(
        url, "SELECT customer_id, tier FROM loyalty_accounts WHERE shop_domain = :s", s=SHOP
    )
    return {r[0]: r[1] for r in rows}


def _recompute(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "target.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(BIN / "target-loyalty"), "recompute", "--config", str(path), "--shop", SHOP],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_recompute_applies_changed_tiers_to_every_account(sqlite_url, tmp_path):
    messages = Messages().records("customers", *(customer(c) for c in SPEND))
    messages.records("orders", *(order(100 + c, c, s, created=at(1, 5)) for c, s in SPEND.items()))
    run_target(_config(sqlite_url, "250"), manifest_for(messages))
    assert _tiers(sqlite_url) == _expected_tiers("250")

    done = _recompute(_config(sqlite_url, "100"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "accounts recomputed" in done.stdout + done.stderr
    assert _tiers(sqlite_url) == _expected_tiers("100")


def test_recompute_without_config_names_the_option(tmp_path):
    done = subprocess.run(
        [str(BIN / "target-loyalty"), "recompute"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "--config" in done.stderr
