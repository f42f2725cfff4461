"""The store's records: customers, orders and their children, kept as plain dataclasses.

Times are integer epoch seconds (Shopify reports whole seconds); money is integer cents
in the shop currency, with each order carrying its presentment currency and rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

SHOP_CURRENCY = "USD"
_YEAR_10000 = 253_402_300_800  # epoch seconds of 10000-01-01

# Presentment currency -> shop-to-presentment rate in basis points (1 USD = rate/10000).
FX_RATES: dict[str, int] = {"USD": 10000, "EUR": 9200, "GBP": 7900, "CAD": 13600, "AUD": 15200}


def gid(kind: str, number: int) -> str:
    """The global id Shopify gives a record, e.g. ``gid://shopify/Order/1001``."""
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str) -> tuple[str, int] | None:
    """Split a gid into its kind and number; None when it is not a Shopify gid."""
    prefix = "gid://shopify/"
    if not value.startswith(prefix):
        return None
    kind, _, number = value[len(prefix) :].partition("/")
    number = number.split("?", 1)[0]
    if not number.isdigit():
        return None
    return kind, int(number)


def iso(epoch: int | None) -> str | None:
    """Format epoch seconds as Shopify does: ISO 8601 UTC with a ``Z`` suffix."""
    if epoch is None:
        return None
    if type(epoch) is int and 0 <= epoch < _YEAR_10000:
        # gmtime is several times cheaper than datetime + strftime (same text for these).
        t = time.gmtime(epoch)
        return (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
        )
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(cents: int) -> str:
    """Cents as Shopify's Decimal string (``"12.5"`` style is avoided: always 2 places)."""
    if type(cents) is int:
        # Integer formatting gives Decimal's text without its cost.
        whole, part = divmod(abs(cents), 100)
        return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


@dataclass(slots=True)
class Metafield:
    """A custom field on a customer."""

    id: int
    namespace: str
    key: str
    value: str
    type: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Customer:
    """A customer record; order aggregates are kept in step by the store."""

    id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    created_at: int
    updated_at: int
    address: dict[str, str] | None = None
    email_state: str = "NOT_SUBSCRIBED"
    email_opt_in: str | None = "SINGLE_OPT_IN"
    email_consent_at: int | None = None
    sms_state: str | None = None
    sms_opt_in: str = "SINGLE_OPT_IN"
    sms_consent_at: int | None = None
    sms_collected_from: str | None = "SHOPIFY"
    tags: list[str] = field(default_factory=list)
    state: str = "ENABLED"
    verified_email: bool = True
    tax_exempt: bool = False
    note: str | None = None
    metafields: list[Metafield] = field(default_factory=list)
    number_of_orders: int = 0
    amount_spent_cents: int = 0

    @property
    def display_name(self) -> str:
        """Name, else email, else phone, as Shopify's displayName falls back."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or self.phone or ""


@dataclass(slots=True)
class LineItem:
    """One line of an order."""

    id: int
    title: str
    sku: str | None
    quantity: int
    unit_cents: int
    discount_cents: int
    vendor: str | None
    product_id: int | None
    variant_id: int | None
    variant_title: str | None = None

    @property
    def name(self) -> str:
        """Title plus variant, as LineItem.name reads."""
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title


@dataclass(slots=True)
class RefundLine:
    """A refunded quantity of one line item."""

    id: int
    line_item_id: int
    quantity: int
    subtotal_cents: int


@dataclass(slots=True)
class Transaction:
    """A payment movement on an order."""

    id: int
    kind: str
    status: str
    gateway: str
    amount_cents: int
    created_at: int
    test: bool


@dataclass(slots=True)
class Refund:
    """A refund with its lines and its refund transaction."""

    id: int
    created_at: int
    updated_at: int
    note: str | None
    amount_cents: int
    lines: list[RefundLine] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)


@dataclass(slots=True)
class Order:
    """An order; totals are derived from its lines, refunds and cancellation."""

    id: int
    number: int
    created_at: int
    processed_at: int
    updated_at: int
    customer_id: int | None
    email: str | None
    phone: str | None
    test: bool
    presentment_currency: str
    line_items: list[LineItem]
    shipping_cents: int
    tax_cents: int
    source_name: str | None = "web"
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    closed_at: int | None = None
    refunds: list[Refund] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    financial_override: str | None = None  # PENDING / AUTHORIZED orders never captured
    fulfillment_status: str = "FULFILLED"

    @property
    def name(self) -> str:
        """The order's display name, ``#1001``."""
        return f"#{self.number}"

    @property
    def rate(self) -> int:
        """Shop-to-presentment rate in basis points."""
        return FX_RATES.get(self.presentment_currency, 10000)

    @property
    def subtotal_cents(self) -> int:
        """Line totals after line discounts."""
        return sum(li.unit_cents * li.quantity - li.discount_cents for li in self.line_items)

    @property
    def discounts_cents(self) -> int:
        """All line discounts."""
        return sum(li.discount_cents for li in self.line_items)

    @property
    def total_cents(self) -> int:
        """Total as placed."""
        return self.subtotal_cents + self.tax_cents + self.shipping_cents

    @property
    def refunded_cents(self) -> int:
        """Sum of all refunds."""
        if not self.refunds:  # most orders: skip building a generator
            return 0
        return sum(r.amount_cents for r in self.refunds)

    @property
    def current_total_cents(self) -> int:
        """Total after refunds; never below zero."""
        return max(0, self.total_cents - self.refunded_cents)

    @property
    def refunded_subtotal_cents(self) -> int:
        """Line subtotals taken back by refunds."""
        if not self.refunds:
            return 0
        return sum(rl.subtotal_cents for r in self.refunds for rl in r.lines)

    @property
    def financial_status(self) -> str:
        """displayFinancialStatus derived from payments and refunds."""
        if self.financial_override is not None:
            return self.financial_override
        refunded = self.refunded_cents
        if refunded >= self.total_cents and refunded > 0:
            return "REFUNDED"
        if refunded > 0:
            return "PARTIALLY_REFUNDED"
        return "PAID"

    def refunded_quantity(self, line_item_id: int) -> int:
        """How many units of a line have been refunded so far."""
        if not self.refunds:
            return 0
        return sum(
            rl.quantity for r in self.refunds for rl in r.lines if rl.line_item_id == line_item_id
        )
