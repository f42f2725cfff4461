"""Delivery settings parsed once: which destinations are on, their adapters, the policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_runtime.delivery.engine import Adapter, Policy

from target_crm.delivery.moengage import MERGE_DELAY_SECONDS, MoEngageAdapter, moengage_host
from target_crm.delivery.ometria import OmetriaAdapter
from target_crm.exceptions import CrmConfigError

OMETRIA_HOST = "https://api.ometria.com"
DATA_CENTERS = frozenset({"01", "02", "03", "04", "05", "06", "101"})


@dataclass(frozen=True)
class DeliveryConfig:
    """The adapters of the destinations that are on, and the engine's policy."""

    adapters: tuple[Adapter, ...]
    policy: Policy

    @property
    def names(self) -> list[str]:
        """The destinations that are on."""
        return [a.name for a in self.adapters]


def _fail(message: str) -> CrmConfigError:
    return CrmConfigError(message, errors=[message])


def _text(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"{name} must be a string")
    return value.strip() or None


def _number(config: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    raw = config.get(name, default)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _fail(f"{name} must be a number") from None
    if isinstance(raw, bool) or value < minimum:
        raise _fail(f"{name} must be a number of at least {minimum:g}")
    return value


def _flag(config: Mapping[str, Any], name: str) -> bool:
    raw = config.get(name, False)
    if isinstance(raw, str):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return bool(raw)


def _moengage(config: Mapping[str, Any], identifier: str) -> MoEngageAdapter | None:
    workspace = _text(config, "moengage_workspace_id")
    key = _text(config, "moengage_api_key")
    if workspace is None and key is None:
        return None
    if workspace is None or key is None:
        missing = "moengage_workspace_id" if workspace is None else "moengage_api_key"
        raise _fail(f"MoEngage is half configured: {missing} is not set (set both, or neither)")
    dc = (_text(config, "moengage_data_center") or "01").zfill(2)
    if dc not in DATA_CENTERS:
        raise _fail(f"moengage_data_center must be one of {sorted(DATA_CENTERS)}")
    retention = config.get("moengage_retention_days")
    if retention is not None and (isinstance(retention, bool) or int(retention) < 1):
        raise _fail("moengage_retention_days must be a whole number of days, at least 1")
    return MoEngageAdapter(
        workspace_id=workspace,
        api_key=key,
        base_url=_text(config, "moengage_api_url") or moengage_host(dc),
        identifier=identifier,
        resend_in_doubt=_flag(config, "moengage_resend_in_doubt"),
        retention_days=int(retention) if retention is not None else None,
        historical_attribute=_text(config, "moengage_historical_attribute") or "historical",
        merge_users=_flag(config, "moengage_merge_users"),
        merge_delay_seconds=_number(
            config, "moengage_merge_delay_seconds", MERGE_DELAY_SECONDS, minimum=0
        ),
    )


def _ometria(config: Mapping[str, Any]) -> OmetriaAdapter | None:
    key = _text(config, "ometria_api_key")
    collection = _text(config, "ometria_collection")
    if key is None:
        if collection is not None:
            raise _fail("Ometria is half configured: ometria_api_key is not set")
        return None
    if collection is None:
        raise _fail(
            "Ometria is half configured: ometria_collection is not set (the contacts' "
            "collection, one per source, e.g. `shopify-<shop>`)"
        )
    return OmetriaAdapter(
        api_key=key,
        base_url=_text(config, "ometria_api_url") or OMETRIA_HOST,
        collection=collection,
        feedback_wait_seconds=_number(config, "ometria_feedback_wait_seconds", 2.0, minimum=0),
    )


def delivery_from_config(config: Mapping[str, Any], identifier: str) -> DeliveryConfig:
    """Adapters for every destination whose credentials are set, and the retry policy.

    Raises:
        CrmConfigError: a destination is half configured, or a value is unusable; the
            message names the setting, never its value.
    """
    adapters: list[Adapter] = []
    moe = _moengage(config, identifier)
    if moe is not None:
        adapters.append(moe)
    ome = _ometria(config)
    if ome is not None:
        adapters.append(ome)
    dry = _text(config, "delivery_dry_run")
    policy = Policy(
        max_attempts=int(_number(config, "delivery_max_attempts", 6, minimum=1)),
        backoff_seconds=_number(config, "delivery_backoff_seconds", 1.0, minimum=0),
        max_backoff_seconds=_number(config, "delivery_max_backoff_seconds", 60.0, minimum=0),
        timeout_seconds=_number(config, "delivery_timeout_seconds", 30.0, minimum=0.1),
        dry_run_dir=Path(dry) if dry else None,
    )
    return DeliveryConfig(tuple(adapters), policy)
