"""``target-loyalty recompute``: recompute every account of the books after a rule change.

A sync's close recomputes only the customers it changed (and those the moved clock
changed). Tiers, cashback, expiry and retention read the rules, so after changing them
(tiers, thresholds, cashback percents, the evaluation period, expiry, metrics) every
account is recomputed: the next sync does it by itself when it sees other rules than the
last close's, and this command does it at once, for one shop or all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from target_loyalty import schema as s
from target_loyalty import storage
from target_loyalty.closing import purge, recompute_books
from target_loyalty.domain.model import LoyaltyRules
from target_loyalty.exceptions import SyncAlreadyRunningError
from target_loyalty.records import parse_moment
from target_loyalty.runs import RunRegistry
from target_loyalty.settings import (
    database_url_from_config,
    lock_lease_from_config,
    rules_from_config,
)


def _config(paths: Sequence[str]) -> dict[str, Any]:
    """The target's settings, later files overriding earlier ones (as singer-sdk reads them)."""
    config: dict[str, Any] = {}
    for path in paths:
        config.update(json.loads(Path(path).read_text()))
    return config


def _clock(config: dict[str, Any]) -> datetime:
    def fail(reason: str) -> ValueError:
        return ValueError(f"setting as_of: {reason}")

    value = config.get("as_of")
    return parse_moment(value, fail) if value is not None else datetime.now(UTC)


def recompute(config: dict[str, Any], shop: str | None, *, out: Any = sys.stdout) -> int:
    """Recompute the books of one shop (or every shop) under the configured rules.

    Returns:
        0, or 1 when the shop is unknown or a sync of a shop was running (that shop is
        left as it is).
    """
    rules = rules_from_config(config)
    now = _clock(config)
    engine = storage.create_engine(database_url_from_config(config))
    registry = RunRegistry(engine, str(uuid.uuid4()), lock_lease_from_config(config))
    query = sa.select(s.shops.c.shop_domain).order_by(s.shops.c.shop_domain)
    with engine.connect() as conn:
        shops = [name for name in conn.execute(query).scalars() if shop in {None, name}]
    if not shops:
        print(f"no books of shop {shop} in this database", file=out)
        return 1
    code = 0
    try:
        for name in shops:
            try:
                registry.hold(name, datetime.now(UTC))
            except SyncAlreadyRunningError as busy:
                print(f"{busy}: not recomputed", file=out)
                code = 1
                continue
            print(_recompute_shop(engine, registry, name, rules, now), file=out)
    finally:
        registry.release_sessions()
        engine.dispose()
    return code


def _recompute_shop(
    engine: Engine, registry: RunRegistry, shop: str, rules: LoyaltyRules, now: datetime
) -> str:
    """One shop's full recompute and purge, in one transaction; its summary line."""
    with engine.begin() as conn:
        done = recompute_books(
            conn, shop, rules, registry.run_id, now=now, closed_at=datetime.now(UTC), full=True
        )
        purged = purge(conn, shop, rules.retention_days, now)
        registry.release(conn, shop)
    return (
        f"{shop}: {done.customers:,} accounts recomputed as of {now.isoformat()}, "
        f"cashback issued {done.cashback}, {purged:,} accounts purged"
    )


def main(argv: Sequence[str]) -> int:
    """``target-loyalty recompute --config target.json [--shop S]``."""
    parser = argparse.ArgumentParser(prog="target-loyalty recompute", description=__doc__)
    parser.add_argument(
        "--config", action="append", required=True, help="the target's settings file"
    )
    parser.add_argument("--shop", help="only this shop_domain")
    args = parser.parse_args(argv)
    return recompute(_config(args.config), args.shop)
