"""Changes to a store, stamped the way Shopify stamps them. Used by the control API and
the fluent builder. Every change bumps ``updated_at`` of what it changes, except the one
documented child-only change (``refund(..., touch_order=False)``: a refund edited without
the order's own updatedAt moving, which Shopify does too).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopify_emulator.generator import to_epoch
from shopify_emulator.lazy import (
    LINE_ITEM_BASE,
    REFUND_BASE,
    TRANSACTION_BASE,
    order_id,
    order_index,
)
from shopify_emulator.model import (
    FX_RATES,
    Customer,
    LineItem,
    Order,
    Refund,
    RefundLine,
    Transaction,
    money,
)
from shopify_emulator.store import Store, customer_facts, order_facts

CUSTOMER_FIELDS = {
    "email",
    "phone",
    "first_name",
    "last_name",
    "address",
    "email_state",
    "email_opt_in",
    "sms_state",
    "sms_opt_in",
    "tags",
    "state",
    "verified_email",
    "tax_exempt",
    "note",
}
CONSENT_ALIASES = {"email_consent": "email_state", "sms_consent": "sms_state"}


class StoreError(ValueError):
    """A change Shopify would refuse; the message names the record and field."""


def _customer(store: Store, cid: int) -> Customer:
    found = store.customers.get(cid)
    if found is None:
        raise StoreError(f"Customer {cid} does not exist")
    return found


def _order(store: Store, oid: int) -> Order:
    order = store.materialize(oid)
    if order is None:
        raise StoreError(f"Order {oid} does not exist")
    return order


def create_customer(store: Store, at: int, **fields: Any) -> int:
    """Add a customer; returns its id."""
    fields = {CONSENT_ALIASES.get(k, k): v for k, v in fields.items()}
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise StoreError(f"Customer: unknown field(s) {', '.join(sorted(unknown))}")
    cid = store.next_customer_id
    store.next_customer_id += 1
    customer = Customer(
        id=cid,
        email=fields.pop("email", None),
        phone=fields.pop("phone", None),
        first_name=fields.pop("first_name", None),
        last_name=fields.pop("last_name", None),
        created_at=at,
        updated_at=at,
    )
    for name, value in fields.items():
        setattr(customer, name, list(value) if name == "tags" else value)
    if customer.email_state != "NOT_SUBSCRIBED":
        customer.email_consent_at = at
    if customer.sms_state is not None:
        customer.sms_consent_at = at
    store.before_change("Customer", cid, None)
    store.customers[cid] = customer
    return cid


def update_customer(store: Store, cid: int, at: int, **fields: Any) -> None:
    """Change customer fields; bumps updatedAt (and consent timestamps when consent moves)."""
    customer = _customer(store, cid)
    fields = {CONSENT_ALIASES.get(k, k): v for k, v in fields.items()}
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise StoreError(f"Customer {cid}: unknown field(s) {', '.join(sorted(unknown))}")
    store.before_change("Customer", cid, customer_facts(customer))
    if "email_state" in fields and fields["email_state"] != customer.email_state:
        customer.email_consent_at = at
    if "sms_state" in fields and fields["sms_state"] != customer.sms_state:
        customer.sms_consent_at = at
    for name, value in fields.items():
        setattr(customer, name, list(value) if name == "tags" else value)
    customer.updated_at = max(at, customer.updated_at)


def delete_customer(store: Store, cid: int) -> None:
    """Delete a customer. Shopify refuses when the customer has orders."""
    _customer(store, cid)
    if any(store.order(o) is not None for o in store.orders_of_customer(cid)):
        raise StoreError(f"Customer {cid} can't be deleted because they have associated orders")
    store.before_change("Customer", cid, customer_facts(store.customers[cid]))
    del store.customers[cid]


def merge_customers(store: Store, keep_id: int, remove_id: int, at: int) -> None:
    """Merge ``remove_id`` into ``keep_id``: orders move (their updatedAt moves), tags join,
    the removed customer disappears."""
    keep, gone = _customer(store, keep_id), _customer(store, remove_id)
    if keep_id == remove_id:
        raise StoreError(f"Customer {keep_id} cannot be merged with itself")
    for oid in list(store.orders_of_customer(remove_id)):
        order = store.materialize(oid)
        if order is None or order.customer_id != remove_id:
            continue
        store.before_change("Order", oid, order_facts(order))
        order.customer_id = keep_id
        order.updated_at = max(at, order.updated_at)
        store.move_order(oid, remove_id, keep_id)
    store.before_change("Customer", keep_id, customer_facts(keep))
    keep.tags = sorted(set(keep.tags) | set(gone.tags))
    keep.email = keep.email or gone.email
    keep.phone = keep.phone or gone.phone
    keep.updated_at = max(at, keep.updated_at)
    store.before_change("Customer", remove_id, customer_facts(gone))
    del store.customers[remove_id]


def _line_items(store: Store, index: int, spec: Any) -> list[LineItem]:
    if isinstance(spec, int):
        variants = [store.catalog[k % len(store.catalog)] for k in range(spec)]
        spec = [
            {
                "title": v.title,
                "sku": v.sku,
                "price": Decimal(v.price_cents) / 100,
                "vendor": v.vendor,
                "product_id": v.product_id,
                "variant_id": v.variant_id,
                "variant_title": v.variant_title,
            }
            for v in variants
        ]
    lines = []
    for k, item in enumerate(spec):
        lines.append(
            LineItem(
                id=LINE_ITEM_BASE + index * 16 + k,
                title=item.get("title", "Custom item"),
                sku=item.get("sku"),
                quantity=int(item.get("quantity", 1)),
                unit_cents=int(Decimal(str(item.get("price", "10.00"))) * 100),
                discount_cents=int(Decimal(str(item.get("discount", "0"))) * 100),
                vendor=item.get("vendor"),
                product_id=item.get("product_id"),
                variant_id=item.get("variant_id"),
                variant_title=item.get("variant_title"),
            )
        )
    return lines


ORDER_FIELDS = {
    "line_items", "currency", "test", "created_at", "email", "phone", "tags", "source_name",
    "note", "financial_status", "shipping", "tax", "touch",
}  # fmt: skip
FINANCIAL_OVERRIDES = {None, "PENDING", "AUTHORIZED", "PARTIALLY_PAID", "VOIDED", "EXPIRED"}


def _check_order_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - ORDER_FIELDS
    if unknown:
        raise StoreError(f"Order: unknown field(s) {', '.join(sorted(unknown))}")
    if fields.get("currency", "USD") not in FX_RATES:
        raise StoreError(f"Order: currency {fields['currency']!r} is not one of {sorted(FX_RATES)}")
    if fields.get("financial_status") not in FINANCIAL_OVERRIDES:
        raise StoreError(f"Order: financial_status {fields['financial_status']!r} is not allowed")


def _money_field(fields: dict[str, Any], name: str, default: str) -> int:
    return int(Decimal(str(fields.get(name, default))) * 100)


def create_order(store: Store, customer_id: int | None, at: int, **fields: Any) -> int:
    """Place an order (guest when ``customer_id`` is None); returns its id.

    Fields: ``line_items`` (a count or a list of dicts with title/price/quantity/sku),
    ``currency`` (presentment), ``test``, ``created_at`` (epoch seconds or ISO 8601, for
    history), ``email``, ``phone``, ``tags``, ``source_name``, ``note``,
    ``financial_status`` (PENDING, AUTHORIZED...), ``shipping``, ``tax``.
    """
    _check_order_fields(fields)
    customer = _customer(store, customer_id) if customer_id is not None else None
    index = store.next_order_index
    created = int(to_epoch(fields.get("created_at", at)))
    test = bool(fields.get("test", False))
    order = Order(
        id=order_id(index),
        number=1001 + index,
        created_at=created,
        processed_at=created,
        updated_at=max(created, at) if fields.get("touch", True) else created,
        customer_id=customer_id,
        email=fields.get("email", customer.email if customer else None),
        phone=fields.get("phone", customer.phone if customer else None),
        test=test,
        presentment_currency=fields.get("currency", "USD"),
        line_items=_line_items(store, index, fields.get("line_items", 1)),
        shipping_cents=_money_field(fields, "shipping", "5.00"),
        tax_cents=0,
        source_name=fields.get("source_name", "web"),
        tags=list(fields.get("tags", [])),
        note=fields.get("note"),
        financial_override=fields.get("financial_status"),
    )
    order.tax_cents = _money_field(fields, "tax", money(order.subtotal_cents // 10))
    gateway = "bogus" if test else "shopify_payments"
    sale = Transaction(
        TRANSACTION_BASE + index * 16, "SALE", "SUCCESS", gateway, order.total_cents, created, test
    )
    order.transactions = [sale]
    store.next_order_index += 1
    store.before_change("Order", order.id, None)
    store.orders[order.id] = order
    if customer is not None:
        store.before_change("Customer", customer.id, customer_facts(customer))
        customer.updated_at = max(customer.updated_at, at)
        store.move_order(order.id, None, customer.id)
    return order.id


def refund_order(
    store: Store,
    oid: int,
    at: int,
    amount: Any = None,
    line_items: list[Any] | None = None,
    *,
    touch_order: bool = True,
    note: str | None = None,
) -> int:
    """Refund an order; returns the refund id. Bumps the order's updatedAt unless
    ``touch_order`` is False (the child-only change). Without amount or lines: refund all
    that is left."""
    order = _order(store, oid)
    lines = _refund_lines(order, line_items, len(order.refunds))
    if amount is not None:
        cents = int(Decimal(str(amount)) * 100)
    elif lines:
        cents = sum(rl.subtotal_cents for rl in lines)
    else:
        cents = order.current_total_cents
    if cents <= 0 or cents > order.current_total_cents:
        raise StoreError(
            f"Order {oid}: refund amount {cents / 100:.2f} exceeds the refundable "
            f"{order.current_total_cents / 100:.2f}"
        )
    if amount is None and not line_items and not lines:
        left = [(li.id, li.quantity - order.refunded_quantity(li.id)) for li in order.line_items]
        lines = _refund_lines(order, [(i, q) for i, q in left if q > 0], len(order.refunds))
    index = order_index(oid)
    rid = REFUND_BASE + index * 4 + len(order.refunds) + (10**9 if len(order.refunds) > 3 else 0)
    txn = Transaction(
        TRANSACTION_BASE + index * 16 + 1 + len(order.refunds),
        "REFUND",
        "SUCCESS",
        order.transactions[0].gateway if order.transactions else "manual",
        cents,
        at,
        order.test,
    )
    if touch_order:
        store.before_change("Order", oid, order_facts(order))
        order.updated_at = max(at, order.updated_at)
    else:
        store.changed()  # no filter sees it, but the order reads differently now
    order.refunds.append(Refund(rid, at, at, note, cents, lines, [txn]))
    _touch_customer(store, order, at)
    return rid


def _refund_lines(order: Order, spec: list[Any] | None, serial: int) -> list[RefundLine]:
    if not spec:
        return []
    by_id = {li.id: li for li in order.line_items}
    out = []
    for n, item in enumerate(spec):
        line_id, quantity = (
            (item["line_item_id"], item.get("quantity", 1)) if isinstance(item, dict) else item
        )
        li = by_id.get(int(str(line_id).rsplit("/", 1)[-1]))
        if li is None:
            raise StoreError(f"Order {order.id}: line item {line_id} does not exist")
        left = li.quantity - order.refunded_quantity(li.id)
        if not 0 < quantity <= left:
            raise StoreError(f"Order {order.id}: line item {li.id} has {left} refundable")
        subtotal = (li.unit_cents * li.quantity - li.discount_cents) * quantity // li.quantity
        out.append(RefundLine(order.id * 64 + serial * 8 + n, li.id, quantity, subtotal))
    return out


def _touch_customer(store: Store, order: Order, at: int) -> None:
    # amountSpent changes with refunds, so Shopify moves the customer's updatedAt too.
    if order.customer_id is not None and order.customer_id in store.customers:
        customer = store.customers[order.customer_id]
        store.before_change("Customer", customer.id, customer_facts(customer))
        customer.updated_at = max(at, customer.updated_at)


def cancel_order(store: Store, oid: int, at: int, reason: str = "CUSTOMER") -> None:
    """Cancel an order (bumps updatedAt, closes it)."""
    order = _order(store, oid)
    if order.cancelled_at is not None:
        raise StoreError(f"Order {oid} is already cancelled")
    if reason not in ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"):
        raise StoreError(f"Order {oid}: invalid cancel reason {reason!r}")
    store.before_change("Order", oid, order_facts(order))
    order.cancelled_at = at
    order.cancel_reason = reason
    order.closed_at = at
    order.updated_at = max(at, order.updated_at)


def delete_order(store: Store, oid: int) -> None:
    """Delete an order: it simply vanishes, as on Shopify."""
    order = _order(store, oid)
    store.before_change("Order", oid, order_facts(order))
    store.orders.pop(oid, None)
    store.deleted_orders.add(oid)
    store.move_order(oid, order.customer_id, None)


def update_order(store: Store, oid: int, at: int, **fields: Any) -> None:
    """Change order tags, note, email or phone (bumps updatedAt)."""
    order = _order(store, oid)
    unknown = set(fields) - {"tags", "note", "email", "phone"}
    if unknown:
        raise StoreError(f"Order {oid}: unknown field(s) {', '.join(sorted(unknown))}")
    store.before_change("Order", oid, order_facts(order))
    for name, value in fields.items():
        setattr(order, name, list(value) if name == "tags" else value)
    order.updated_at = max(at, order.updated_at)
