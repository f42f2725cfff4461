"""The settings of target-crm (each with a description: they feed --about and the README)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_sdk import typing as th
from target_runtime.database_url import EmptyDatabaseUrlError, database_url_from_config

from target_crm.exceptions import CrmConfigError

DEFAULT_DATABASE_URL = "sqlite:///output/target-crm.db"


def database_url(config: Mapping[str, Any]) -> str:
    """The store's URL: the setting; only an absent setting falls back to the default.

    Raises:
        CrmConfigError: the setting is present but empty or blank (an unset variable in
            Meltano's environment would otherwise silently write to a local SQLite file).
    """
    try:
        return database_url_from_config(config, DEFAULT_DATABASE_URL)
    except EmptyDatabaseUrlError:
        msg = (
            "database_url is set but empty: give the CRM store's SQLAlchemy URL "
            "(in Meltano, the CRM_DATABASE_URL variable), or remove the setting to use the "
            f"local default {DEFAULT_DATABASE_URL}"
        )
        raise CrmConfigError(msg, errors=[msg]) from None


CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "database_url",
        th.StringType,
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the CRM store: a SQLite file (folder created) or "
        "PostgreSQL (`postgresql+psycopg://user@host:5432/db`). Only an absent setting uses "
        "the local default; an empty or blank one is a configuration error.",
        secret=True,
    ),
    th.Property(
        "identifier",
        th.StringType,
        default="email",
        allowed_values=["email", "phone", "shopify_id"],
        description="Which customer field identifies a contact. Customers without it are "
        "not loaded; they are counted and listed in `skipped_records` with the reason.",
    ),
    th.Property(
        "duplicate_policy",
        th.StringType,
        default="flag",
        allowed_values=["flag", "merge"],
        description="Two Shopify customers matching by normalised email or phone: `flag` "
        "keeps both contacts and records the pair; `merge` folds the newer one into the "
        "existing contact (status `merged`, its events go to the kept contact).",
    ),
    th.Property(
        "consent_source_of_truth",
        th.StringType,
        default="shopify",
        allowed_values=["shopify", "crm"],
        description="Which system owns marketing consent. `shopify`: a Shopify change is "
        "applied when newer than the stored one. `crm`: Shopify only seeds contacts without "
        "consent. Every change seen is written to `consent_audit` with the decision.",
    ),
    th.Property(
        "order_placed_event_name",
        th.StringType,
        default="Order Placed",
        description="Name of the order-placed event (MoEngage calls it `Shopify - Order Placed`).",
    ),
    th.Property(
        "event_name_prefix",
        th.StringType,
        default="",
        description="Prefix of the other order event names (`Order Updated`, "
        "`Order Cancelled`, `Order Refunded`).",
    ),
    th.Property(
        "event_retention_days",
        th.IntegerType,
        description="Events older than this many days are not stored; they are counted "
        "as suppressed `outside_retention_window` in the run statistics. Unset keeps all.",
    ),
    th.Property(
        "automation_cutover",
        th.DateTimeType,
        description="Silent-backfill cut-over: events whose Shopify time is after it "
        "trigger automations. Unset: recorded per shop when its first complete sync ends "
        "(the tap's `sync_manifest` arrived), as the newest of the manifest's window ends "
        "and the Shopify times that sync saw.",
    ),
    th.Property(
        "metafield_attributes",
        th.ObjectType(additional_properties=th.StringType),
        description="Metafields copied onto contacts: `namespace.key` -> attribute name. "
        "Metafields are not copied otherwise.",
    ),
    th.Property(
        "default_country",
        th.StringType,
        description="The shop's country (ISO 3166 alpha-2, `IT`): national phone numbers "
        "of customers whose default address has no country are read in it. Phones are "
        "normalised to E.164 with `phonenumbers`; an unparseable phone is kept raw and "
        "never matches.",
    ),
    th.Property(
        "default_calling_code",
        th.StringType,
        description="Country calling code (`44`), used like `default_country` (which wins) "
        "to read national phone numbers when the customer's address has no country.",
    ),
    th.Property(
        "paid_financial_statuses",
        th.ArrayType(th.StringType),
        default=["PAID", "PARTIALLY_REFUNDED", "REFUNDED"],
        description="Shopify financial statuses whose money counts: only orders in one of "
        "them add to a contact's `lifetime_value` and `order_count`. Other orders (PENDING, "
        "AUTHORIZED, PARTIALLY_PAID, VOIDED, EXPIRED, none) still produce `Order Placed` "
        "but add nothing until a later sync sees them paid.",
    ),
    th.Property(
        "max_roster_deletion_share",
        th.NumberType,
        default=0.05,
        description="A complete roster that would delete or merge away more than this "
        "share (0 to 1) of a shop's live contacts is not applied and the run fails, naming "
        "the numbers. Set it higher to allow a large clean-up.",
    ),
    th.Property(
        "destinations",
        th.ArrayType(th.StringType),
        default=[],
        description="Extra destinations to queue for without sending (`moengage`, "
        "`ometria`): new events and changed contacts are queued in `outbox` as pending for "
        "each. A destination whose credentials are set is queued and sent without this.",
    ),
    th.Property(
        "moengage_workspace_id",
        th.StringType,
        description="MoEngage workspace (app) id. With `moengage_api_key` it switches "
        "delivery to MoEngage on; one without the other is a configuration error.",
    ),
    th.Property(
        "moengage_api_key",
        th.StringType,
        secret=True,
        description="MoEngage Data API key (Basic auth with the workspace id). Never logged.",
    ),
    th.Property(
        "moengage_data_center",
        th.StringType,
        default="01",
        description="MoEngage data centre of the workspace (`01`..`06`, `101`): the host "
        "is `https://api-{dc}.moengage.com`.",
    ),
    th.Property(
        "moengage_api_url",
        th.StringType,
        description="Override of the MoEngage host (a proxy or a local stand-in); the "
        "engine appends `/v1/transition/{workspace_id}`.",
    ),
    th.Property(
        "moengage_resend_in_doubt",
        th.BooleanType,
        default=False,
        description="MoEngage has no dedup key: a request whose answer was lost (crash, "
        "dropped connection, timeout) is not sent again unless this is true (it may then "
        "duplicate those events). Counted as in doubt either way.",
    ),
    th.Property(
        "moengage_retention_days",
        th.IntegerType,
        description="The workspace's event retention window: older events are not sent "
        "and are counted `outside_retention` in the delivery report. Unset sends all.",
    ),
    th.Property(
        "moengage_historical_attribute",
        th.StringType,
        default="historical",
        description="Event attribute set to true on events from before the silent-backfill "
        "cut-over; exclude it in MoEngage campaign triggers (README, Delivery).",
    ),
    th.Property(
        "moengage_merge_users",
        th.BooleanType,
        default=False,
        description="When a contact's MoEngage user id changes (an email change with "
        "`identifier: email`), merge the old user into the new one through MoEngage's Merge "
        "User API (`/v1/customer/merge`), once. MoEngage enables that API per workspace on "
        "request: turn this on only then. Off, the change is counted in the delivery report "
        "and the old user stays.",
    ),
    th.Property(
        "moengage_merge_delay_seconds",
        th.NumberType,
        default=7200,
        description="Seconds between the new user id's first send and the merge; MoEngage "
        "asks for at least 2 hours.",
    ),
    th.Property(
        "ometria_api_key",
        th.StringType,
        secret=True,
        description="Ometria API key (`X-Ometria-Auth`); set with `ometria_collection` it "
        "switches delivery to Ometria on. Never logged.",
    ),
    th.Property(
        "ometria_collection",
        th.StringType,
        description="Ometria `@collection` of the contacts (one per source, e.g. "
        "`shopify-demo`); required with `ometria_api_key`.",
    ),
    th.Property(
        "ometria_api_url",
        th.StringType,
        description="Override of `https://api.ometria.com` (a proxy or a local stand-in); "
        "the engine appends `/v2/push`.",
    ),
    th.Property(
        "ometria_feedback_wait_seconds",
        th.NumberType,
        default=2.0,
        description="Ometria validates records after answering OK: seconds to wait at the "
        "end of a run before reading its errors list (`/v2/push/_errors`) into the report.",
    ),
    th.Property(
        "delivery_dry_run",
        th.StringType,
        description="A folder: request bodies are written there (one file per request, "
        "under the destination's name) instead of being sent; the outbox stays pending.",
    ),
    th.Property(
        "privacy_export_dir",
        th.StringType,
        default="output/privacy-exports",
        description="Folder of the `data_request` exports: one JSON file per request at "
        "`<folder>/<shop_domain>/<request_id>.json`, mode 0600 in 0700 folders (README, "
        "Privacy requests).",
    ),
    th.Property(
        "delivery_max_attempts",
        th.IntegerType,
        default=6,
        description="Attempts per request on 429, 5xx or a connection that never opened; "
        "after them the destination stops for the run and its rows stay pending.",
    ),
    th.Property(
        "delivery_backoff_seconds",
        th.NumberType,
        default=1.0,
        description="First retry delay, doubled each attempt (a longer `Retry-After` wins).",
    ),
    th.Property(
        "delivery_max_backoff_seconds",
        th.NumberType,
        default=60.0,
        description="Longest single retry delay.",
    ),
    th.Property(
        "delivery_timeout_seconds",
        th.NumberType,
        default=30.0,
        description="Seconds to wait for a platform's answer; no answer makes the request "
        "in doubt (see `moengage_resend_in_doubt`).",
    ),
    th.Property(
        "max_rejected_records",
        th.IntegerType,
        default=1000,
        description="Unparseable records are quarantined (bad input lines dead-lettered) "
        "and the run continues until more than this many were rejected; then it fails.",
    ),
    th.Property(
        "lock_lease_seconds",
        th.IntegerType,
        default=600,
        description="A shop's sync lock held from another host is taken over once its "
        "heartbeat is older than this; on the same host a live process keeps its lock however "
        "quiet, and on PostgreSQL a live session does.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description="Validate every record against its JSON Schema in singer-sdk (slow). "
        "Off by default: the target's strict parser validates and quarantines.",
    ),
)
