"""Domain records: what the CRM store knows about customers, orders, contacts and events.

Every class is a frozen dataclass so a rule can only return new values, never edit old ones.
Money is :class:`~decimal.Decimal` in the shop currency; times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal("0")
# Financial statuses whose money counts (README "Rules"); a setting.
PAID_FINANCIAL_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})


class Identifier(StrEnum):
    """Which customer field identifies a contact in the destination (seed 000)."""

    EMAIL = "email"
    PHONE = "phone"
    SHOPIFY_ID = "shopify_id"


class DuplicatePolicy(StrEnum):
    """What to do when two Shopify customers resolve to one person (seed 003)."""

    FLAG = "flag"
    MERGE = "merge"


class ConsentSource(StrEnum):
    """Which system owns marketing consent (seed 003)."""

    SHOPIFY = "shopify"
    CRM = "crm"


class ContactStatus(StrEnum):
    """Life-cycle of a contact in the store."""

    ACTIVE = "active"
    DELETED = "deleted"
    MERGED = "merged"


@dataclass(frozen=True)
class Consent:
    """A marketing consent state for one channel, with the time it changed."""

    state: str
    opt_in_level: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Customer:
    """A parsed `customers` record (see docs/record-contract.md)."""

    shop_domain: str
    id: int
    updated_at: datetime
    created_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    province: str | None = None
    country: str | None = None
    country_code: str | None = None
    number_of_orders: int = 0
    amount_spent: Decimal = ZERO
    email_consent: Consent | None = None
    sms_consent: Consent | None = None
    tags: tuple[str, ...] = ()
    metafields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LineItem:
    """One order line, as placed and as it stands now."""

    id: int | None
    title: str | None
    sku: str | None
    quantity: int
    current_quantity: int
    unit_price: Decimal
    product_id: int | None = None
    variant_id: int | None = None


@dataclass(frozen=True)
class Refund:
    """One Shopify refund on an order."""

    id: int
    created_at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Order:
    """A parsed `orders` record; money in the shop currency."""

    shop_domain: str
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    customer_id: int | None
    currency_code: str
    total_price: Decimal
    current_total_price: Decimal
    total_refunded: Decimal
    subtotal_price: Decimal = ZERO
    total_tax: Decimal = ZERO
    total_discounts: Decimal = ZERO
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    email: str | None = None
    line_items: tuple[LineItem, ...] = ()
    refunds: tuple[Refund, ...] = ()
    tags: tuple[str, ...] = ()
    source_name: str | None = None
    test: bool = False


@dataclass(frozen=True)
class Contact:
    """A contact as the CRM store holds it, keyed by (shop_domain, customer_id)."""

    shop_domain: str
    customer_id: int
    status: ContactStatus
    shopify_updated_at: datetime
    created_in_store_at: datetime
    updated_in_store_at: datetime
    email: str | None = None
    email_normalized: str | None = None
    phone: str | None = None
    phone_normalized: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    province: str | None = None
    country: str | None = None
    shopify_order_count: int = 0
    shopify_amount_spent: Decimal = ZERO
    email_consent: Consent | None = None
    sms_consent: Consent | None = None
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    merged_into: int | None = None
    deleted_at: datetime | None = None

    @property
    def accepts_email_marketing(self) -> bool:
        """Whether the contact may receive marketing email (Shopify's "accepts marketing")."""
        return self.email_consent is not None and self.email_consent.state == "SUBSCRIBED"

    @property
    def accepts_sms_marketing(self) -> bool:
        """Whether the contact may receive marketing SMS."""
        return self.sms_consent is not None and self.sms_consent.state == "SUBSCRIBED"


@dataclass(frozen=True)
class OrderSnapshot:
    """What the store remembers of an order, to tell what changed in a newer version."""

    shop_domain: str
    order_id: int
    name: str
    customer_id: int | None
    contact_customer_id: int | None
    previous_customer_id: int | None
    created_at: datetime
    updated_at: datetime
    cancelled: bool
    refund_ids: frozenset[int]
    fingerprint: str
    counts_as_order: bool
    net_value: Decimal
    total_price: Decimal
    total_refunded: Decimal
    currency_code: str
    financial_status: str | None


@dataclass(frozen=True)
class Event:
    """A CRM event with a deterministic id, unique in the store."""

    event_id: str
    shop_domain: str
    kind: str
    name: str
    customer_id: int
    source_customer_id: int
    occurred_at: datetime
    source_time: datetime
    recorded_at: datetime
    triggers_automations: bool
    order_id: int | None = None
    properties: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentAudit:
    """One consent change seen from the source, with what the store decided."""

    audit_id: str
    shop_domain: str
    customer_id: int
    channel: str
    previous_state: str | None
    new_state: str
    consent_updated_at: datetime | None
    decision: str
    recorded_at: datetime


@dataclass(frozen=True)
class DuplicatePair:
    """Two Shopify customers that resolve to one person, and the rule that matched."""

    shop_domain: str
    customer_id: int
    matched_customer_id: int
    rule: str
    policy: DuplicatePolicy
    detected_at: datetime


@dataclass(frozen=True)
class CrmRules:
    """The settings that change what the domain rules do."""

    identifier: Identifier = Identifier.EMAIL
    duplicate_policy: DuplicatePolicy = DuplicatePolicy.FLAG
    consent_source: ConsentSource = ConsentSource.SHOPIFY
    order_placed_event_name: str = "Order Placed"
    event_name_prefix: str = ""
    event_retention_days: int | None = None
    default_calling_code: str | None = None
    metafield_attributes: Mapping[str, str] = field(default_factory=dict)
    paid_financial_statuses: frozenset[str] = PAID_FINANCIAL_STATUSES
    default_country: str | None = None
    max_roster_deletion_share: Decimal = Decimal("0.05")
