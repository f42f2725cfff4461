"""A deterministic store generator: realistic distributions plus every sync edge case.

Edge cases always present (given enough records): customers without email, phone-only
customers, two customers sharing one email, two sharing one phone, unicode and hostile
names and tags, guest orders, test orders, cancelled orders, full/partial/multiple refunds,
unpaid orders (PENDING, AUTHORIZED, PARTIALLY_PAID, EXPIRED; VOIDED when cancelled), orders
tagged ``skip_loyalty`` in any letter case, presentment currencies other than the shop's,
orders older and younger than 60 days, refunds edited after their order's updatedAt, and
bursts of records sharing one updatedAt second.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable
from datetime import datetime

from shopify_emulator.catalog import (
    CITIES,
    FIRST_NAMES,
    HOSTILE_STRINGS,
    LAST_NAMES,
    TAGS,
    build_catalog,
)
from shopify_emulator.lazy import (
    CANCELLED,
    CLOSED,
    REFUND_FULL,
    REFUND_MASK,
    REFUND_MULTIPLE,
    REFUND_PARTIAL,
    STALE_CHILDREN,
    TEST,
    UNPAID,
    LazyOrders,
)
from shopify_emulator.lazy import order_id as lazy_order_id
from shopify_emulator.model import Customer, Metafield
from shopify_emulator.store import Store

CUSTOMER_BASE = 7_100_000_000_000
DAY = 86_400
HISTORY_DAYS = 3 * 365


def to_epoch(now: datetime | float | str | None) -> float:
    """Accept a datetime, an ISO 8601 string, epoch seconds or None (the current time)."""
    if now is None:
        return float(int(time.time()))
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


def generate_store(
    seed: int,
    customers: int,
    orders: int,
    now: datetime | float | None = None,
    shop_domain: str = "demo-store.myshopify.com",
) -> Store:
    """Generate a store; the same arguments always give the same records.

    Args:
        seed: Seed of every random choice.
        customers: Number of customers.
        orders: Number of orders (generated lazily: cheap even for millions).
        now: Store time at start; defaults to the current time (pass it for determinism).
        shop_domain: The shop's myshopify domain.

    Returns:
        The generated store.
    """
    start = to_epoch(now)
    rng = random.Random(seed)
    catalog = build_catalog()
    contacts: dict[int, tuple[str | None, str | None]] = {}
    lazy = LazyOrders(seed, catalog, contacts)
    store = Store(now=start, shop_domain=shop_domain, catalog=catalog, lazy=lazy)
    now_s = int(start)
    for j in range(customers):
        customer = _customer(rng, j, now_s)
        store.customers[customer.id] = customer
        contacts[customer.id] = (customer.email, customer.phone)
    store.next_customer_id = CUSTOMER_BASE + customers
    _shared_phones(store, contacts)
    _fill_orders(rng, lazy, [c.id for c in store.customers.values()], orders, now_s)
    # New orders from the control API must not reuse a generated order's id.
    store.next_order_index = len(lazy)
    _touch_customers_with_recent_orders(store)
    _order_edge_cases(store)
    return store


_STATES = (("ENABLED", "DISABLED", "INVITED", "DECLINED"), (70, 95, 99, 100))
_EMAIL_STATES = (
    ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "INVALID", "REDACTED"),
    (35, 80, 92, 96, 98, 100),
)
_OPT_IN = ("SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN")
_SMS_STATES = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")
_ADDRESS_KEYS = ("city", "province", "province_code", "country", "country_code", "zip")


def _weighted(rng: random.Random, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
    # Precomputed cumulative weights: random.choices recomputes them on every call.
    values, cumulative = table
    return values[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _identity(
    rng: random.Random, j: int
) -> tuple[str | None, str | None, str | None, str | None, list[str]]:
    """(first, last, email, phone, tags), with the edge cases on fixed residues of j."""
    first: str | None = FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))]
    last: str | None = LAST_NAMES[int(rng.random() * len(LAST_NAMES))]
    email: str | None = f"customer{j}@example.com"
    phone: str | None = f"+1415555{j % 10_000:04d}" if rng.random() < 0.4 else None
    tags = rng.sample(TAGS, int(rng.random() * 4))
    kind = j % 50
    if kind == 3:
        email = None  # no email, phone only
        phone = f"+4477009{j % 100_000:05d}"
    elif kind == 7:
        email, phone = None, None  # neither (e.g. created at POS with a name only)
    elif kind == 11 and j > 0:
        email = f"customer{j - 1}@example.com"  # shares the previous customer's email
    elif kind == 13:
        first = rng.choice(HOSTILE_STRINGS)
        tags = [*tags, rng.choice(HOSTILE_STRINGS[:6])]
    elif kind == 17:
        first, last = None, None
    return first, last, email, phone, tags


def _shared_phones(store: Store, contacts: dict[int, tuple[str | None, str | None]]) -> None:
    """Customer j (j % 50 == 23) gets the phone of customer j - 1 (given one if it had none).

    Done after generation, without random draws, so every other record stays as it was.
    """
    for cid, customer in store.customers.items():
        previous = store.customers.get(cid - 1)
        if (cid - CUSTOMER_BASE) % 50 != 23 or previous is None:
            continue
        if previous.phone is None:
            previous.phone = f"+1415555{(cid - 1 - CUSTOMER_BASE) % 10_000:04d}"
            contacts[previous.id] = (previous.email, previous.phone)
        customer.phone = previous.phone
        contacts[cid] = (customer.email, customer.phone)


def _customer(rng: random.Random, j: int, now: int) -> Customer:
    created = now - _between(rng, DAY, HISTORY_DAYS * DAY)
    updated = created if rng.random() < 0.3 else _between(rng, created, now - 60)
    first, last, email, phone, tags = _identity(rng, j)
    email_state = _weighted(rng, _EMAIL_STATES) if email else "NOT_SUBSCRIBED"
    customer = Customer(
        id=CUSTOMER_BASE + j,
        email=email,
        phone=phone,
        first_name=first,
        last_name=last,
        created_at=created,
        updated_at=updated,
        email_state=email_state,
        email_opt_in=_OPT_IN[int(rng.random() * 3)],
        email_consent_at=_between(rng, created, updated)
        if email_state != "NOT_SUBSCRIBED"
        else None,
        tags=sorted(set(tags)),
        state=_weighted(rng, _STATES),
        verified_email=email is not None and rng.random() < 0.9,
        note="Prefers email" if rng.random() < 0.05 else None,
    )
    if phone is not None:
        customer.sms_state = _SMS_STATES[int(rng.random() * 3)]
        customer.sms_consent_at = created
    if rng.random() < 0.8:
        city = CITIES[int(rng.random() * len(CITIES))]
        customer.address = dict(zip(_ADDRESS_KEYS, city, strict=True))
    if j % 9 == 0:
        customer.metafields.append(
            Metafield(CUSTOMER_BASE * 2 + j, "loyalty", "tier_hint", "gold",
                      "single_line_text_field", created, updated)
        )  # fmt: skip
    return customer


def _fill_orders(
    rng: random.Random, lazy: LazyOrders, customer_ids: list[int], count: int, now: int
) -> None:
    if count == 0:
        return
    created = _creation_times(rng, count, now)
    # A few popular customers place many orders (long-tail, like real shops).
    weights = [1.0 / (1 + (k % 97)) ** 0.8 for k in range(len(customer_ids))]
    picks = rng.choices(customer_ids, weights, k=count) if customer_ids else [-1] * count
    bursts = sorted(now - rng.randint(DAY, 30 * DAY) for _ in range(3))
    rand = rng.random
    for i in range(count):
        c = created[i]
        customer = picks[i] if rand() >= 0.08 else -1  # 8% guest checkouts
        flags, updated = _order_flags(rand, c, now)
        if rand() < 0.03:
            # Bulk edits: many orders share one updatedAt second.
            burst = bursts[i % 3]
            if burst > c:
                updated = burst
        if i % 997 == 5 and customer_ids:
            flags |= STALE_CHILDREN | REFUND_PARTIAL
            flags &= ~(UNPAID | CANCELLED)
            updated = min(max(updated, c + 3600), now - 7200)
        lazy.append(c, max(c, updated), customer, flags)


def _creation_times(rng: random.Random, count: int, now: int) -> list[int]:
    # 85% across three years, 15% in the last 60 days (the read_all_orders boundary).
    old = [
        now - rng.randint(61 * DAY, HISTORY_DAYS * DAY) for _ in range(count - count * 15 // 100)
    ]
    recent = [now - rng.randint(120, 59 * DAY) for _ in range(count * 15 // 100)]
    times = old + recent
    times.sort()  # ids grow with creation time
    return times


def _order_flags(r: Callable[[], float], created: int, now: int) -> tuple[int, int]:
    flags = 0
    updated = created + int(r() * 600)
    if r() < 0.02:
        flags |= TEST
    roll = r()
    later = created + int((now - created) * r() * 0.5)
    if roll < 0.04:
        flags |= CANCELLED | (REFUND_FULL if r() < 0.7 else UNPAID)
        updated = later
    elif roll < 0.10:
        flags |= REFUND_PARTIAL
        updated = later
    elif roll < 0.12:
        flags |= REFUND_FULL
        updated = later
    elif roll < 0.13:
        flags |= REFUND_MULTIPLE
        updated = later
    elif roll < 0.14:
        flags |= UNPAID
    elif r() < 0.5:
        flags |= CLOSED
        updated = created + int((now - created) * r() * 0.2)
    return flags, max(created, min(updated, now - 1))


def _touch_customers_with_recent_orders(store: Store) -> None:
    # Placing an order updates the customer on Shopify: keep updatedAt >= latest order.
    lazy = store.lazy
    if lazy is None:
        return
    latest: dict[int, int] = {}
    for i in range(len(lazy)):
        cid = lazy.customer[i]
        if cid >= 0 and lazy.created[i] > latest.get(cid, 0):
            latest[cid] = lazy.created[i]
    for cid, at in latest.items():
        customer = store.customers[cid]
        customer.created_at = min(customer.created_at, at)
        customer.updated_at = max(customer.updated_at, at)


# Orders given a rarer state after generation, materialized (the lazy columns have no bit
# for them). Only the first orders are looked at, so a million-order store stays small.
EDGE_CASE_ORDERS = 20_000
_SKIP_TAGS = ("Skip_Loyalty", "SKIP_LOYALTY", "skip_loyalty")
_UNPAID_STATES = ("PENDING", "AUTHORIZED", "PARTIALLY_PAID", "EXPIRED")
_PLAIN_MASK = TEST | CANCELLED | REFUND_MASK | UNPAID | STALE_CHILDREN


def _order_edge_cases(store: Store) -> None:
    """Skip-tagged orders (mixed letter case) and more unpaid states, on fixed residues."""
    lazy = store.lazy
    if lazy is None:
        return
    for i in range(min(len(lazy), EDGE_CASE_ORDERS)):
        skip, unpaid = i % 53 == 19, i % 37 == 5 and not lazy.flags[i] & _PLAIN_MASK
        if not (skip or unpaid):
            continue
        order = store.materialize(lazy_order_id(i))
        if order is None:
            continue
        if skip:
            order.tags = [*order.tags, _SKIP_TAGS[(i // 53) % len(_SKIP_TAGS)]]
        if unpaid:
            status = _UNPAID_STATES[(i // 37) % len(_UNPAID_STATES)]
            order.financial_override = status
            order.fulfillment_status = "UNFULFILLED"
            sale = order.transactions[0]
            sale.kind = "SALE" if status == "PARTIALLY_PAID" else "AUTHORIZATION"
            sale.status = {"PENDING": "PENDING", "EXPIRED": "FAILURE"}.get(status, "SUCCESS")
            if status == "PARTIALLY_PAID":
                sale.amount_cents //= 2
