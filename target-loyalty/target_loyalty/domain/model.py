"""The loyalty program's vocabulary: orders, refunds, ledger entries and program rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)


class EntryKind(enum.StrEnum):
    """Why a ledger row exists; part of its idempotency key."""

    SIGNUP_BONUS = "signup_bonus"
    EARN = "earn"
    REFUND_REVERSAL = "refund_reversal"
    CANCELLATION_REVERSAL = "cancellation_reversal"
    CASHBACK = "cashback"
    ADJUSTMENT = "adjustment"
    MERGE_TRANSFER = "merge_transfer"
    EXPIRY = "expiry"


#: Kinds a customer may receive only once in a lifetime; merges keep one of them.
ONE_TIME_KINDS = frozenset({EntryKind.SIGNUP_BONUS})


class EarningBasis(enum.StrEnum):
    """Which order amount earns points and counts as spend."""

    SUBTOTAL = "subtotal"  # after discounts, excluding shipping and tax
    TOTAL = "total"  # everything the buyer paid, shipping and tax included


class EvaluationPeriod(enum.StrEnum):
    """The window of orders whose net spend places a customer in a tier."""

    ROLLING_12_MONTHS = "rolling_12_months"
    CALENDAR_YEAR = "calendar_year"
    LIFETIME = "lifetime"


#: Shopify's default paid statuses: an order in one of them earns (refunds reverse it).
DEFAULT_PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
#: Statuses that may still become paid: such an order is booked as pending, earning later.
AWAITING_PAYMENT_STATUSES = frozenset({"PENDING", "AUTHORIZED", "PARTIALLY_PAID"})


class SkipReason(enum.StrEnum):
    """Why a record was received but not applied (the report counts each reason)."""

    GUEST_ORDER = "guest_order"
    TEST_ORDER = "test_order"
    SKIP_TAG = "skip_tag"
    AWAITING_PAYMENT = "awaiting_payment"
    NOT_PAID = "not_paid"
    STALE_VERSION = "stale_version"
    STALE_ROSTER_VERSION = "stale_roster_version"
    UNKNOWN_STREAM = "unknown_stream"


@dataclass(frozen=True)
class Refund:
    """One Shopify refund, in shop currency.

    Attributes:
        refund_id: Shopify's numeric refund id; the idempotency source of its reversal.
        created_at: When the refund happened.
        line_subtotal: Sum of the refunded line items' subtotals (no shipping, no tax).
        total: Everything refunded, shipping and tax included.
    """

    refund_id: int
    created_at: datetime
    line_subtotal: Decimal
    total: Decimal


@dataclass(frozen=True)
class Order:
    """The loyalty-relevant facts of one order, in shop currency."""

    order_id: int
    customer_id: int | None
    created_at: datetime
    updated_at: datetime
    subtotal: Decimal
    total: Decimal
    currency: str
    test: bool = False
    cancelled_at: datetime | None = None
    tags: frozenset[str] = frozenset()
    refunds: tuple[Refund, ...] = ()
    financial_status: str | None = "PAID"


@dataclass(frozen=True)
class LedgerEntry:
    """One immutable ledger row; a balance is the sum of a customer's rows.

    Attributes:
        customer_id: The account the points belong to.
        source: What produced the row (``order:1001``, ``refund:7``, ``signup``).
        kind: Why the row exists.
        points: Signed points actually applied to the balance.
        occurred_at: When the points were earned or taken (drives expiry).
        rule: Human-readable rule that produced the row.
        order_id: The order the row belongs to, if any.
        rate: The rule's parameter when the row was written (points per unit, or
            cashback percent), so later rule changes never rewrite history.
        cashback: Store credit issued (cashback rows), in shop currency.
        uncollected: Points a reversal could not take because balances may not go
            negative; ``points - uncollected`` is what the rule asked for.
    """

    customer_id: int
    source: str
    kind: EntryKind
    points: int
    occurred_at: datetime
    rule: str = ""
    order_id: int | None = None
    rate: Decimal | None = None
    cashback: Decimal = ZERO
    uncollected: int = 0

    @property
    def key(self) -> tuple[int, str, EntryKind]:
        """The idempotency key (customer, source, kind) within a shop."""
        return (self.customer_id, self.source, self.kind)

    @property
    def intended_points(self) -> int:
        """What the rule asked for, before any no-negative-balance clamp."""
        return self.points - self.uncollected


@dataclass(frozen=True)
class Tier:
    """A named level with entry and retain thresholds on net spend."""

    name: str
    entry_threshold: Decimal
    retain_threshold: Decimal
    cashback_percent: Decimal = ZERO


@dataclass(frozen=True)
class LoyaltyRules:
    """Every program setting the rules read; built from the target's config."""

    points_per_unit: Decimal = Decimal(1)
    earning_basis: EarningBasis = EarningBasis.SUBTOTAL
    skip_tags: frozenset[str] = frozenset({"skip_loyalty"})
    paid_financial_statuses: frozenset[str] = DEFAULT_PAID_STATUSES
    signup_bonus_points: int = 0
    signup_bonus_existing_customers: bool = False
    allow_negative_balance: bool = True
    tiers: tuple[Tier, ...] = ()
    evaluation_period: EvaluationPeriod = EvaluationPeriod.ROLLING_12_MONTHS
    expiry_days: int | None = None
    retention_days: int = 90
    reconcile_existing_ledger: bool = True
    update_customer_metrics: bool = True


@dataclass(frozen=True)
class Discrepancy:
    """A record, or part of one, that was not applied as-is, and why."""

    record_key: str
    field: str
    reason: str
    corrected: bool = False


@dataclass(frozen=True)
class OrderOutcome:
    """What applying one order record to the ledger does."""

    new_entries: tuple[LedgerEntry, ...] = ()
    reassign_from: frozenset[int] = frozenset()
    discrepancies: tuple[Discrepancy, ...] = ()
    net_basis: Decimal = ZERO
    eligible: bool = False
    skip_reason: SkipReason | None = None
