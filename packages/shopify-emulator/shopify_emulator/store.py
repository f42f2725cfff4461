"""The store: customers, the (partly lazy) order table, a clock and the search index lag."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from shopify_emulator.catalog import Variant
from shopify_emulator.lazy import CANCELLED, CLOSED, TEST, LazyOrders, order_index
from shopify_emulator.model import Customer, Order

MAX_CHANGE_LOG = 50_000


class Clock:
    """Store time: a starting instant that then runs with the wall clock, plus skips."""

    def __init__(self, start: float) -> None:
        """Start the clock at ``start`` (epoch seconds)."""
        self._start = start
        self._mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Current store time in epoch seconds."""
        return self._start + (time.monotonic() - self._mono) + self._offset

    def advance(self, seconds: float) -> None:
        """Jump forward (advance_time in the control API)."""
        self._offset += seconds


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What search filters and sort keys read from an order."""

    id: int
    created_at: int
    processed_at: int
    updated_at: int
    customer_id: int | None
    test: bool
    cancelled: bool
    closed: bool


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What search filters and sort keys read from a customer."""

    id: int
    created_at: int
    updated_at: int
    email: str | None
    phone: str | None
    state: str
    tags: tuple[str, ...]
    name: str


def customer_facts(c: Customer) -> CustomerFacts:
    """The searchable view of a customer."""
    return CustomerFacts(
        c.id, c.created_at, c.updated_at, c.email, c.phone, c.state, tuple(c.tags), c.display_name
    )


def order_facts(o: Order) -> OrderFacts:
    """The searchable view of a materialized order."""
    return OrderFacts(
        o.id,
        o.created_at,
        o.processed_at,
        o.updated_at,
        o.customer_id,
        o.test,
        o.cancelled_at is not None,
        o.closed_at is not None,
    )


class Store:
    """All records of one shop. Thread-safe through one re-entrant lock."""

    def __init__(
        self,
        *,
        now: float,
        shop_domain: str = "demo-store.myshopify.com",
        shop_name: str = "Demo Store",
        catalog: list[Variant] | None = None,
        lazy: LazyOrders | None = None,
    ) -> None:
        """Create an empty store whose clock starts at ``now`` (epoch seconds)."""
        self.clock = Clock(now)
        self.shop_domain = shop_domain
        self.shop_name = shop_name
        self.catalog = catalog or []
        self.lock = threading.RLock()
        self.customers: dict[int, Customer] = {}
        self.lazy = lazy
        self.orders: dict[int, Order] = {}  # materialized orders, shadowing generated ones
        self.deleted_orders: set[int] = set()
        self.next_order_index = len(lazy) if lazy else 0
        self.next_customer_id = 0
        self.version = 0
        self.index_lag = 0.0
        self._pending: dict[tuple[str, int], tuple[float, object | None]] = {}
        self._orders_by_customer: dict[int, list[int]] | None = None
        self._sorted_cache: dict[tuple[str, str], tuple[int, list[int]]] = {}
        # (version, kind, id) of recent changes, to patch sorted caches instead of re-sorting.
        self._changes: list[tuple[int, str, int]] = []

    # --- time -------------------------------------------------------------------------
    def now(self) -> int:
        """Current store time in whole seconds, as Shopify stamps records."""
        return int(self.clock.now())

    # --- orders -----------------------------------------------------------------------
    def order(self, oid: int) -> Order | None:
        """The full order (generated on demand), or None if it does not exist."""
        found = self.orders.get(oid)
        if found is not None:
            return found
        if oid in self.deleted_orders or self.lazy is None:
            return None
        index = order_index(oid)
        if 0 <= index < len(self.lazy):
            return self.lazy.make(index)
        return None

    def order_ids(self) -> Iterator[int]:
        """Ids of all live orders (generated and materialized)."""
        if self.lazy is not None:
            base = self.lazy_base_id()
            skip = self.deleted_orders
            for i in range(len(self.lazy)):
                oid = base + i
                if oid not in skip:
                    yield oid
        for oid in self.orders:
            if self.lazy is None or order_index(oid) >= len(self.lazy):
                yield oid

    def lazy_base_id(self) -> int:
        """Id of generated order 0."""
        from shopify_emulator.lazy import ORDER_BASE  # noqa: PLC0415 - avoid a cycle

        return ORDER_BASE

    def order_facts(self, oid: int) -> OrderFacts | None:
        """The searchable columns of an order without expanding it when generated."""
        found = self.orders.get(oid)
        if found is not None:
            return order_facts(found)
        if self.lazy is None or oid in self.deleted_orders:
            return None
        i = order_index(oid)
        if not 0 <= i < len(self.lazy):
            return None
        lz = self.lazy
        flags = lz.flags[i]
        cust = lz.customer[i]
        return OrderFacts(
            oid,
            lz.created[i],
            lz.created[i],
            lz.updated[i],
            None if cust < 0 else cust,
            bool(flags & TEST),
            bool(flags & CANCELLED),
            bool(flags & (CLOSED | CANCELLED)),
        )

    def materialize(self, oid: int) -> Order | None:
        """The order as a stored object that changes can be made to."""
        found = self.orders.get(oid)
        if found is not None:
            return found
        order = self.order(oid)
        if order is not None:
            self.orders[oid] = order
        return order

    def orders_of_customer(self, cid: int) -> list[int]:
        """Ids of a customer's orders (index built on first use, kept up to date)."""
        if self._orders_by_customer is None:
            self._orders_by_customer = self._index_orders_by_customer()
        return self._orders_by_customer.get(cid, [])

    def _index_orders_by_customer(self) -> dict[int, list[int]]:
        index: dict[int, list[int]] = {}
        if self.lazy is not None:
            # Read the compact column directly: a million orders index in well under a second.
            base = self.lazy_base_id()
            shadowed = self.deleted_orders | self.orders.keys()
            for i, cust in enumerate(self.lazy.customer):
                if cust >= 0 and base + i not in shadowed:
                    index.setdefault(cust, []).append(base + i)
        for oid, order in self.orders.items():
            if order.customer_id is not None:
                index.setdefault(order.customer_id, []).append(oid)
        for ids in index.values():
            ids.sort()
        return index

    def order_sort_value(self, oid: int, attr: str) -> int:
        """An order's created_at/processed_at/updated_at without expanding it."""
        found = self.orders.get(oid)
        if found is not None:
            return int(getattr(found, attr))
        if self.lazy is None:
            return 0
        i = order_index(oid)
        if not 0 <= i < len(self.lazy):
            return 0
        return self.lazy.updated[i] if attr == "updated_at" else self.lazy.created[i]

    def _patch_sorted(
        self, kind: str, cached: tuple[int, list[int]], key_fn: Callable[[int], Any]
    ) -> list[int]:
        # Take the changed records out and put the live ones back at their new keys.
        since, old = cached
        changed = {rid for v, k, rid in self._changes if v > since and k == kind}
        ids = [rid for rid in old if rid not in changed]
        for rid in changed:
            alive = self.order_facts(rid) is not None if kind == "Order" else rid in self.customers
            if alive:
                bisect.insort(ids, rid, key=key_fn)
        return ids

    def move_order(self, oid: int, old_customer: int | None, new_customer: int | None) -> None:
        """Keep the customer -> orders index current when an order appears, moves or goes."""
        index = self._orders_by_customer
        if index is None:
            return
        if old_customer is not None and oid in index.get(old_customer, []):
            index[old_customer].remove(oid)
        if new_customer is not None:
            bisect.insort(index.setdefault(new_customer, []), oid)

    def reindex_customer_orders(self) -> None:
        """Forget the customer -> orders index after orders move or appear."""
        self._orders_by_customer = None

    def customer_totals(self, cid: int) -> tuple[int, int]:
        """(numberOfOrders, amountSpent cents) over the customer's non-test orders."""
        count = spent = 0
        with self.lock:  # the control API may be moving orders between customers
            for oid in self.orders_of_customer(cid):
                order = self.order(oid)
                if order is None or order.test or order.customer_id != cid:
                    continue
                count += 1
                spent += order.current_total_cents
        return count, spent

    # --- search index lag -------------------------------------------------------------
    def before_change(self, kind: str, rid: int, old_facts: object | None) -> None:
        """Remember what the search index still sees while a change is lagging."""
        self.version += 1
        self._changes.append((self.version, kind, rid))
        if len(self._changes) > MAX_CHANGE_LOG:
            self._changes.clear()
            self._sorted_cache.clear()
        if self.index_lag <= 0:
            return
        key = (kind, rid)
        now = self.clock.now()
        pending = self._pending.get(key)
        if pending is not None and pending[0] > now:
            old_facts = pending[1]  # the index still holds the oldest unindexed view
        self._pending[key] = (now + self.index_lag, old_facts)

    def changed(self) -> None:
        """Count a change no search filter or sort key sees (``version`` counts every
        change, so what was read at one version can be reused until the next)."""
        self.version += 1

    def index_settled(self) -> bool:
        """Whether the search index holds every change (no filter sees an old value)."""
        now = self.clock.now()
        return all(until <= now for until, _old in list(self._pending.values()))

    def indexed(self, kind: str, rid: int, live: object | None) -> object | None:
        """The facts the search index currently holds for a record (None: not indexed)."""
        pending = self._pending.get((kind, rid))
        if pending is None:
            return live
        if pending[0] <= self.clock.now():
            del self._pending[(kind, rid)]
            return live
        return pending[1]

    def sorted_ids(self, kind: str, sort_key: str, key_fn: Callable[[int], Any]) -> list[int]:
        """All live ids of ``kind`` sorted by (sort key, id); cached until the next change."""
        cached = self._sorted_cache.get((kind, sort_key))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        if cached is not None and self._changes and self._changes[0][0] <= cached[0] + 1:
            ids = self._patch_sorted(kind, cached, key_fn)
            self._sorted_cache[(kind, sort_key)] = (self.version, ids)
            return ids
        if kind == "Order":
            ids = self._sorted_order_ids(sort_key, key_fn)
        else:
            ids = sorted(self.customers, key=key_fn)
        self._sorted_cache[(kind, sort_key)] = (self.version, ids)
        return ids

    def _sorted_order_ids(self, sort_key: str, key_fn: Callable[[int], Any]) -> list[int]:
        # A million orders: sort plain values and tuples (C speed), not a Python key per id.
        if sort_key not in ("UPDATED_AT", "CREATED_AT", "PROCESSED_AT"):
            return sorted(self.order_ids(), key=None if sort_key == "ID" else key_fn)
        attr = sort_key.lower()
        pairs: list[tuple[int, int]] = []
        if self.lazy is not None:
            column = self.lazy.updated if attr == "updated_at" else self.lazy.created
            base = self.lazy_base_id()
            shadowed = self.deleted_orders | self.orders.keys()
            pairs = [(v, base + i) for i, v in enumerate(column) if base + i not in shadowed]
        pairs += [(int(getattr(o, attr)), oid) for oid, o in self.orders.items()]
        pairs.sort()
        return [oid for _, oid in pairs]
