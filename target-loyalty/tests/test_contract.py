"""The suite's target contract (packages/testkit), run against target-loyalty."""

from __future__ import annotations

from typing import Any

from loyalty_records import query
from testkit.target_contract import TargetContract


class TestTargetLoyaltyContract(TargetContract):
    """Replay, splits, roster deletions, quarantine, STATE and shop locks, on SQLite and
    PostgreSQL."""

    executable = "target-loyalty"

    def config(self, database_url: str) -> dict[str, Any]:
        return {
            "database_url": database_url,
            "signup_bonus_points": 10,
            "signup_bonus_existing_customers": True,
            "tiers": [
                {"name": "Member", "entry_threshold": "0", "cashback_percent": "1"},
                {"name": "Gold", "entry_threshold": "100", "cashback_percent": "4"},
            ],
        }

    def observable_state(self, database_url: str, shop_domain: str) -> Any:
        ledger = query(
            database_url,
            "SELECT customer_id, source, kind, points, cashback FROM loyalty_ledger "
            "WHERE shop_domain = :s ORDER BY customer_id, source, kind",
            s=shop_domain,
        )
        accounts = query(
            database_url,
            "SELECT customer_id, status, tier, points_balance, net_spend FROM loyalty_accounts "
            "WHERE shop_domain = :s ORDER BY customer_id",
            s=shop_domain,
        )
        return [tuple(map(str, r)) for r in ledger] + [tuple(map(str, r)) for r in accounts]

    def live_customer_ids(self, database_url: str, shop_domain: str) -> set[int]:
        rows = query(
            database_url,
            "SELECT customer_id FROM loyalty_accounts WHERE shop_domain = :s AND status = 'active'",
            s=shop_domain,
        )
        return {int(r[0]) for r in rows}

    def quarantined(self, database_url: str) -> list[tuple[str, str]]:
        rows = query(database_url, "SELECT stream, field, reason FROM loyalty_quarantine")
        return [(stream, f"{field}: {reason}") for stream, field, reason in rows]

    def dead_letters(self, database_url: str) -> list[tuple[int, str]]:
        rows = query(database_url, "SELECT line_number, reason FROM loyalty_dead_letters")
        return [(int(number), str(reason)) for number, reason in rows]

    def quarantined_records(self, database_url: str) -> list[tuple[str, str, str, str]]:
        rows = query(
            database_url, "SELECT stream, record_key, field, reason FROM loyalty_quarantine"
        )
        return [tuple(map(str, row)) for row in rows]  # type: ignore[misc]

    def run_outcomes(self, database_url: str) -> list[str]:
        rows = query(
            database_url, "SELECT status FROM loyalty_sync_runs ORDER BY started_at, run_id"
        )
        return [str(status) for (status,) in rows]
