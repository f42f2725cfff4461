"""Orders generated on demand from (seed, index), so a million orders fit in little memory.

Only the columns search and sorting need are kept per order (compact ``array`` columns);
everything else (lines, refunds, transactions) is rebuilt deterministically by
``LazyOrders.make(i)`` each time the order is read. Changed orders live in the store as
real ``Order`` objects that shadow the generated ones.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

from shopify_emulator.catalog import Variant
from shopify_emulator.model import FX_RATES, LineItem, Order, Refund, RefundLine, Transaction

ORDER_BASE = 5_600_000_000_000
LINE_ITEM_BASE = 13_000_000_000_000
REFUND_BASE = 900_000_000_000
TRANSACTION_BASE = 6_000_000_000_000

# Flag bits of the per-order flags column.
TEST = 1
CANCELLED = 2
REFUND_PARTIAL = 4
REFUND_FULL = 8
REFUND_MULTIPLE = 12
REFUND_MASK = 12
STALE_CHILDREN = 16  # a refund changed after the order's own updatedAt (Shopify does this)
UNPAID = 32  # PENDING or AUTHORIZED, never captured
CLOSED = 64

_CURRENCIES = ["USD"] * 16 + ["EUR", "EUR", "GBP", "CAD", "AUD"]
_SOURCES = ["web"] * 8 + ["pos", "shopify_draft_order", "iphone", "android"]
_SHIPPING = [0, 0, 500, 799, 1500]
_TAX_RATES = [0, 5, 8, 19, 20]
_LINE_COUNTS = [1, 1, 1, 2, 2, 3, 4, 5]
_QUANTITIES = [1, 1, 1, 2, 3]
_CANCEL_REASONS = ["CUSTOMER", "CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"]


def order_id(index: int) -> int:
    """The id of the order at ``index`` (ids grow with creation time, as on Shopify)."""
    return ORDER_BASE + index


def order_index(order_id_: int) -> int:
    """Inverse of :func:`order_id`."""
    return order_id_ - ORDER_BASE


class LazyOrders:
    """The generated part of the order table: columns plus a deterministic expander."""

    def __init__(
        self,
        seed: int,
        catalog: list[Variant],
        contacts: dict[int, tuple[str | None, str | None]],
    ) -> None:
        """Start empty; the generator appends columns with :meth:`append`.

        Args:
            seed: The store seed; each order's details come from (seed, index).
            catalog: Product variants line items are drawn from.
            contacts: Customer id -> (email, phone), copied onto their orders.
        """
        self.seed = seed
        self.catalog = catalog
        self.contacts = contacts
        self.created = array("q")
        self.updated = array("q")
        self.customer = array("q")  # -1 for guest orders
        self.flags = array("B")

    def __len__(self) -> int:
        """Number of generated orders."""
        return len(self.created)

    def append(self, created: int, updated: int, customer: int, flags: int) -> None:
        """Add one order's index columns."""
        self.created.append(created)
        self.updated.append(updated)
        self.customer.append(customer)
        self.flags.append(flags)

    def make(self, index: int) -> Order:
        """Expand the order at ``index`` into a full record (same result every time)."""
        rng = random.Random(self.seed * 1_000_003 + index)
        # What rng.choice(seq) and rng.randint(a, b) draw, without their two extra calls
        # (seq[_randbelow(len(seq))], a + _randbelow(b - a + 1)): the same numbers.
        below = rng._randbelow  # type: ignore[attr-defined]
        created, updated = self.created[index], self.updated[index]
        flags, cust = self.flags[index], self.customer[index]
        customer_id = None if cust < 0 else cust
        test = bool(flags & TEST)
        email, phone = self._contact(rng, customer_id, index)
        order = Order(
            id=order_id(index),
            number=1001 + index,
            created_at=created,
            processed_at=created,
            updated_at=updated,
            customer_id=customer_id,
            email=email,
            phone=phone,
            test=test,
            presentment_currency=_CURRENCIES[below(len(_CURRENCIES))],
            line_items=self._line_items(rng, below, index),
            shipping_cents=_SHIPPING[below(len(_SHIPPING))],
            tax_cents=0,
            source_name=_SOURCES[below(len(_SOURCES))],
            tags=rng.sample(["wholesale", "gift", "repeat", "promo"], below(3)),
        )
        subtotal = order.subtotal_cents
        order.tax_cents = subtotal * _TAX_RATES[below(len(_TAX_RATES))] // 100
        total = subtotal + order.tax_cents + order.shipping_cents  # order.total_cents
        order.transactions = [self._sale(total, index, created, test, flags)]
        if flags & UNPAID:
            order.financial_override = rng.choice(["PENDING", "AUTHORIZED"])
            order.fulfillment_status = "UNFULFILLED"
        if flags & CLOSED:
            order.closed_at = min(updated, created + 86400 * rng.randint(1, 20))
        self._refunds(rng, order, index, flags)
        if flags & CANCELLED:
            self._cancel(rng, order, flags)
        return order

    def _contact(
        self, rng: random.Random, customer_id: int | None, index: int
    ) -> tuple[str | None, str | None]:
        if customer_id is not None:
            return self.contacts.get(customer_id, (None, None))
        if rng.random() < 0.15:
            return None, f"+1555{index % 10_000_000:07d}"
        return f"guest{index}@example.net", None

    def _line_items(
        self, rng: random.Random, below: Callable[[int], int], index: int
    ) -> list[LineItem]:
        count = _LINE_COUNTS[below(len(_LINE_COUNTS))]
        lines = []
        for k, variant in enumerate(rng.sample(self.catalog, count)):
            quantity = _QUANTITIES[below(len(_QUANTITIES))]
            discount = variant.price_cents * quantity // 10 if below(4) == 3 else 0
            lines.append(
                LineItem(
                    id=LINE_ITEM_BASE + index * 16 + k,
                    title=variant.title,
                    sku=variant.sku,
                    quantity=quantity,
                    unit_cents=variant.price_cents,
                    discount_cents=discount,
                    vendor=variant.vendor,
                    product_id=variant.product_id,
                    variant_id=variant.variant_id,
                    variant_title=variant.variant_title,
                )
            )
        return lines

    def _sale(self, total: int, index: int, created: int, test: bool, flags: int) -> Transaction:
        unpaid = bool(flags & UNPAID)
        return Transaction(
            id=TRANSACTION_BASE + index * 16,
            kind="AUTHORIZATION" if unpaid else "SALE",
            status="PENDING" if unpaid else "SUCCESS",
            gateway="bogus" if test else "shopify_payments",
            amount_cents=total,
            created_at=created,
            test=test,
        )

    def _refunds(self, rng: random.Random, order: Order, index: int, flags: int) -> None:
        kind = flags & REFUND_MASK
        if not kind:
            return
        span = max(1, order.updated_at - order.created_at)
        if kind == REFUND_FULL:
            plan = [[(li, li.quantity) for li in order.line_items]]
        elif kind == REFUND_PARTIAL:
            plan = [[(order.line_items[0], 1)]]
        else:
            plan = [[(li, 1)] for li in order.line_items[:3]] or [[(order.line_items[0], 1)]]
            if len(plan) == 1:
                plan.append([])  # a shipping/goodwill refund without lines
        for r, lines in enumerate(plan):
            at = order.created_at + span * (r + 1) // (len(plan) + 1)
            refund = _make_refund(order, index, r, lines, at, full=kind == REFUND_FULL)
            left = order.total_cents - order.refunded_cents
            if left <= 0:
                break
            refund.amount_cents = refund.transactions[0].amount_cents = min(
                refund.amount_cents, left
            )
            if flags & STALE_CHILDREN and r == len(plan) - 1:
                # The refund was edited later without the order's updatedAt moving.
                refund.updated_at = order.updated_at + rng.randint(60, 3600)
            order.refunds.append(refund)

    def _cancel(self, rng: random.Random, order: Order, flags: int) -> None:
        order.cancelled_at = order.updated_at - (1 if order.updated_at > order.created_at else 0)
        order.cancel_reason = rng.choice(_CANCEL_REASONS)
        order.closed_at = order.cancelled_at
        order.fulfillment_status = "UNFULFILLED"
        if flags & UNPAID:
            order.financial_override = "VOIDED"


def _make_refund(
    order: Order,
    index: int,
    r: int,
    lines: list[tuple[LineItem, int]],
    at: int,
    *,
    full: bool,
) -> Refund:
    refund_id = REFUND_BASE + index * 4 + r
    refund_lines = [
        RefundLine(
            id=refund_id * 8 + n,
            line_item_id=li.id,
            quantity=q,
            subtotal_cents=(li.unit_cents * li.quantity - li.discount_cents) * q // li.quantity,
        )
        for n, (li, q) in enumerate(lines)
    ]
    amount = order.total_cents if full else sum(rl.subtotal_cents for rl in refund_lines)
    if not refund_lines:
        amount = max(100, order.total_cents // 20)
    txn = Transaction(
        id=TRANSACTION_BASE + index * 16 + 1 + r,
        kind="REFUND",
        status="SUCCESS",
        gateway=order.transactions[0].gateway if order.transactions else "manual",
        amount_cents=amount,
        created_at=at,
        test=order.test,
    )
    return Refund(
        id=refund_id,
        created_at=at,
        updated_at=at,
        note=None if r else "Customer return",
        amount_cents=amount,
        lines=refund_lines,
        transactions=[txn],
    )


assert set(_CURRENCIES) <= set(FX_RATES)
