"""The target's settings schema and how it becomes :class:`LoyaltyRules`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from singer_sdk import typing as th
from target_runtime.database_url import EmptyDatabaseUrlError
from target_runtime.database_url import database_url_from_config as database_url_from_settings
from target_runtime.shop_lock import lease_from_config

from target_loyalty.domain.model import (
    DEFAULT_PAID_STATUSES,
    EarningBasis,
    EvaluationPeriod,
    LoyaltyRules,
    Tier,
)
from target_loyalty.domain.tiers import validate_tiers
from target_loyalty.exceptions import InvalidConfigError, InvalidRulesError

DEFAULT_DATABASE_URL = "sqlite:///output/target-loyalty.db"
DEFAULT_LOCK_LEASE_SECONDS = 3600
#: Older names of ``lock_lease_seconds``, still accepted.
DEPRECATED_LOCK_LEASE_NAMES = ("lock_stale_after_seconds",)

TIER = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Tier name."),
    th.Property(
        "entry_threshold",
        th.StringType,
        required=True,
        description="Net spend (decimal string, shop currency) to enter the tier.",
    ),
    th.Property(
        "retain_threshold",
        th.StringType,
        description="Net spend to keep the tier once in it (default: the entry threshold).",
    ),
    th.Property(
        "cashback_percent",
        th.StringType,
        description="Cashback issued on each order's net spend, in percent (default 0).",
    ),
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "database_url",
        th.StringType,
        default=DEFAULT_DATABASE_URL,
        secret=True,
        description="SQLAlchemy URL of the books: a SQLite file (default, folder created) or "
        "`postgresql+psycopg://user@host/db`. Secret: it may carry a password. Only an absent "
        "setting uses the default file; an empty or blank value (an unset "
        "`$LOYALTY_DATABASE_URL` in Meltano) fails at start.",
    ),
    th.Property(
        "points_per_currency_unit",
        th.StringType,
        default="1",
        description="Points per unit of shop currency on the earning basis, rounded down.",
    ),
    th.Property(
        "earning_basis",
        th.StringType,
        default="subtotal",
        allowed_values=[b.value for b in EarningBasis],
        description="`subtotal`: after discounts, excluding shipping and tax; `total`: all paid.",
    ),
    th.Property(
        "skip_tags",
        th.ArrayType(th.StringType),
        default=["skip_loyalty"],
        description="Orders carrying any of these tags (matched case-insensitively, as Shopify "
        "tags are) earn nothing and count toward no tier or cashback (counted `skip_tag`).",
    ),
    th.Property(
        "paid_financial_statuses",
        th.ArrayType(th.StringType),
        default=sorted(DEFAULT_PAID_STATUSES),
        description="Financial statuses in which an order earns points, counts toward tier "
        "spend and earns cashback. PENDING, AUTHORIZED and PARTIALLY_PAID orders not listed "
        "are booked as pending (counted `awaiting_payment`) and earn once a sync sees them "
        "paid; any other status never earns (`not_paid`); an order that earned and leaves "
        "these statuses is reversed.",
    ),
    th.Property(
        "signup_bonus_points",
        th.IntegerType,
        default=0,
        description="Points granted once per customer lifetime on signup; 0 disables it.",
    ),
    th.Property(
        "signup_bonus_existing_customers",
        th.BooleanType,
        default=False,
        description="Whether customers created before the program started get the bonus on "
        "first import.",
    ),
    th.Property(
        "program_start_date",
        th.DateTimeType,
        description="When the program started (default: the shop's first sync into this "
        "database); customers created earlier are pre-existing.",
    ),
    th.Property(
        "allow_negative_balance",
        th.BooleanType,
        default=True,
        description="Whether reversals may take a balance below zero; when off, the part a "
        "reversal cannot take is recorded on the row as uncollected.",
    ),
    th.Property("tiers", th.ArrayType(TIER), default=[], description="Tiers, lowest first."),
    th.Property(
        "tier_evaluation_period",
        th.StringType,
        default="rolling_12_months",
        allowed_values=[p.value for p in EvaluationPeriod],
        description="Window of orders whose net spend places a customer in a tier.",
    ),
    th.Property(
        "points_expiry_days",
        th.IntegerType,
        description="Points expire this many days after they were earned (off when unset).",
    ),
    th.Property(
        "deleted_customer_retention_days",
        th.IntegerType,
        default=90,
        description="Days a soft-deleted or merged-away account is kept before it is purged.",
    ),
    th.Property(
        "reconcile_existing_ledger",
        th.BooleanType,
        default=True,
        description="Correct orders already in the ledger whose amounts changed in Shopify "
        "(counted as discrepancies); off: leave them as booked.",
    ),
    th.Property(
        "update_customer_metrics",
        th.BooleanType,
        default=True,
        description="Recompute spend totals, tiers and balances after the sync; off: import "
        "ledger rows only.",
    ),
    th.Property(
        "max_roster_deletion_share",
        th.NumberType,
        default=0.05,
        description="Largest share (0 to 1) of a shop's live accounts one roster version may "
        "soft-delete or merge away; a roster that would delete more is not applied and the "
        "run fails naming the numbers. Raise it to allow a large clean-up.",
    ),
    th.Property(
        "privacy_export_dir",
        th.StringType,
        default="output/privacy-exports",
        description="Folder for data-request exports: one JSON file per request at "
        "<privacy_export_dir>/<shop_domain>/<request_id>.json (file 0600, folders 0700).",
    ),
    th.Property(
        "max_rejected_records",
        th.IntegerType,
        default=1000,
        description="Quarantined records plus dead-lettered input lines allowed in one run "
        "before it fails.",
    ),
    th.Property(
        "as_of",
        th.DateTimeType,
        description="The sync's clock for tiers, expiry and retention (default: now).",
    ),
    # No schema default for the lease: a default would always be set and hide the
    # deprecated name (Meltano passes every setting's default value to the target).
    th.Property(
        "lock_lease_seconds",
        th.IntegerType,
        description=f"Default {DEFAULT_LOCK_LEASE_SECONDS}. A shop's sync lock held from "
        "another host is taken over once its heartbeat is older than this; on the same host "
        "a live process keeps its lock however quiet, and on PostgreSQL a live session does.",
    ),
    th.Property(
        "lock_stale_after_seconds",
        th.IntegerType,
        description="Deprecated: the former name of lock_lease_seconds, used only when "
        "lock_lease_seconds is not set.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description="Per-record JSON Schema validation by singer-sdk; off by default because "
        "the target's own parser is strict and quarantines bad records.",
    ),
).to_dict()


def lock_lease_from_config(config: Mapping[str, Any]) -> timedelta:
    """The shop lock's lease: ``lock_lease_seconds``, else ``lock_stale_after_seconds``.

    Raises:
        InvalidConfigError: the lease is not a number of seconds >= 0.
    """
    try:
        return lease_from_config(
            config,
            DEFAULT_LOCK_LEASE_SECONDS,
            DEPRECATED_LOCK_LEASE_NAMES,
            warn=logging.getLogger("target-loyalty").warning,
        )
    except ValueError as error:
        raise InvalidConfigError(str(error)) from error


def database_url_from_config(config: Mapping[str, Any]) -> str:
    """The books' URL: the setting, or the default SQLite file only when it is absent.

    Raises:
        InvalidConfigError: The setting is present but empty or blank, as Meltano makes it
            from an unset ``$LOYALTY_DATABASE_URL``: never fall back to a local file then.
    """
    try:
        return database_url_from_settings(config, DEFAULT_DATABASE_URL)
    except EmptyDatabaseUrlError:
        msg = (
            "setting database_url is empty: set it to the books' SQLAlchemy URL (with Meltano, "
            "the LOYALTY_DATABASE_URL environment variable is unset or empty). Leave the "
            f"setting out entirely to use the default SQLite file {DEFAULT_DATABASE_URL}."
        )
        raise InvalidConfigError(msg) from None


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        msg = f"setting {name}: not a decimal: {value!r}"
        raise InvalidRulesError(msg) from None


def _paid_statuses(config: Mapping[str, Any]) -> frozenset[str]:
    statuses = config.get("paid_financial_statuses", sorted(DEFAULT_PAID_STATUSES))
    if not isinstance(statuses, list) or not all(isinstance(v, str) for v in statuses):
        msg = "setting paid_financial_statuses must be a list of financial statuses"
        raise InvalidRulesError(msg)
    return frozenset(v.strip().upper() for v in statuses)


def rules_from_config(config: Mapping[str, Any]) -> LoyaltyRules:
    """Build and check the program rules.

    Raises:
        InvalidRulesError: A setting is out of range, naming it.
    """
    tiers = tuple(
        Tier(
            name=t["name"],
            entry_threshold=_decimal(t["entry_threshold"], f"tiers.{t['name']}.entry_threshold"),
            retain_threshold=_decimal(
                t.get("retain_threshold", t["entry_threshold"]),
                f"tiers.{t['name']}.retain_threshold",
            ),
            cashback_percent=_decimal(
                t.get("cashback_percent", "0"), f"tiers.{t['name']}.cashback_percent"
            ),
        )
        for t in config.get("tiers") or []
    )
    try:
        validate_tiers(tiers)
    except ValueError as error:
        raise InvalidRulesError(str(error)) from None
    share = config.get("max_roster_deletion_share", 0.05)
    # Config files are decoded with numbers as Decimal; any real number from 0 to 1 will do.
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float | Decimal)
        or not 0 <= share <= 1
    ):
        msg = f"setting max_roster_deletion_share must be a number from 0 to 1, got {share!r}"
        raise InvalidRulesError(msg)
    rate = _decimal(config.get("points_per_currency_unit", "1"), "points_per_currency_unit")
    if rate < 0:
        msg = "setting points_per_currency_unit must not be negative"
        raise InvalidRulesError(msg)
    return LoyaltyRules(
        points_per_unit=rate,
        earning_basis=EarningBasis(config.get("earning_basis", "subtotal")),
        skip_tags=frozenset(config.get("skip_tags", ["skip_loyalty"])),
        paid_financial_statuses=_paid_statuses(config),
        signup_bonus_points=int(config.get("signup_bonus_points", 0)),
        signup_bonus_existing_customers=bool(config.get("signup_bonus_existing_customers", False)),
        allow_negative_balance=bool(config.get("allow_negative_balance", True)),
        tiers=tiers,
        evaluation_period=EvaluationPeriod(
            config.get("tier_evaluation_period", "rolling_12_months")
        ),
        expiry_days=config.get("points_expiry_days"),
        retention_days=int(config.get("deleted_customer_retention_days", 90)),
        reconcile_existing_ledger=bool(config.get("reconcile_existing_ledger", True)),
        update_customer_metrics=bool(config.get("update_customer_metrics", True)),
    )
