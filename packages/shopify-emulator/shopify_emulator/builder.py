"""Fluent builder for small, exact test stores.

Example:
    >>> store = (
    ...     StoreBuilder(seed=1, now=datetime(2026, 1, 1, tzinfo=UTC))
    ...     .customer(email=None, phone="+14155550100")
    ...     .order(refund="partial")
    ...     .order(cancelled=True, created_days_ago=400)
    ...     .order(guest=True, test=True)
    ...     .build()
    ... )
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shopify_emulator import mutations
from shopify_emulator.catalog import build_catalog
from shopify_emulator.generator import CUSTOMER_BASE, to_epoch
from shopify_emulator.store import Store

DAY = 86_400
_AUTO = object()
REFUND_KINDS = (None, "partial", "full", "multiple")


class StoreBuilder:
    """Builds a store record by record; ``.order()`` attaches to the last ``.customer()``."""

    def __init__(
        self,
        seed: int = 0,
        now: datetime | float | None = None,
        shop_domain: str = "demo-store.myshopify.com",
    ) -> None:
        """Start an empty store whose clock reads ``now`` (default: the current time)."""
        self.seed = seed
        self._store = Store(now=to_epoch(now), shop_domain=shop_domain, catalog=build_catalog())
        self._store.next_customer_id = CUSTOMER_BASE
        self._now = int(self._store.clock.now())
        self._last_customer: int | None = None
        self._serial = 0
        self.customer_ids: list[int] = []
        self.order_ids: list[int] = []

    def _tick(self) -> int:
        # Distinct seconds for records built in sequence, unless a test pins them.
        self._serial += 1
        return self._serial

    def customer(
        self,
        *,
        email: Any = _AUTO,
        phone: str | None = None,
        first_name: str | None = "Test",
        last_name: str | None = None,
        tags: Sequence[str] = (),
        email_consent: str = "NOT_SUBSCRIBED",
        sms_consent: str | None = None,
        created_days_ago: float = 100,
        updated_at: datetime | float | None = None,
        **fields: Any,
    ) -> StoreBuilder:
        """Add a customer. ``email=None`` means none; by default a unique email is made up."""
        n = len(self.customer_ids)
        if email is _AUTO:
            email = f"builder{self.seed}-{n}@example.com"
        created = self._now - int(created_days_ago * DAY) - 100_000 + self._tick()
        cid = mutations.create_customer(
            self._store,
            created,
            email=email,
            phone=phone,
            first_name=first_name,
            last_name=last_name if last_name is not None else f"Customer{n}",
            tags=list(tags),
            email_state=email_consent if email else "NOT_SUBSCRIBED",
            sms_state=sms_consent if phone else None,
            **fields,
        )
        if updated_at is not None:
            self._store.customers[cid].updated_at = int(to_epoch(updated_at))
        self._last_customer = cid
        self.customer_ids.append(cid)
        return self

    def order(
        self,
        *,
        refund: str | None = None,
        cancelled: bool = False,
        test: bool = False,
        guest: bool = False,
        created_days_ago: float = 10,
        currency: str = "USD",
        line_items: int | list[dict[str, Any]] = 1,
        updated_at: datetime | float | None = None,
        silent_child_change: bool = False,
        **fields: Any,
    ) -> StoreBuilder:
        """Add an order for the last customer (or a guest order).

        Args:
            refund: "partial", "full", "multiple" or None.
            cancelled: Cancel it (reason CUSTOMER) an hour after it was placed.
            test: A test order.
            guest: No customer.
            created_days_ago: When it was placed (older than 60 days needs read_all_orders).
            currency: Presentment currency (the shop's is USD).
            line_items: A count, or dicts with title/price/quantity/sku.
            updated_at: Pin updatedAt (e.g. many orders sharing one second).
            silent_child_change: Add a refund later without moving the order's updatedAt.
            **fields: More order fields (tags, email, source_name, note...).
        """
        if refund not in REFUND_KINDS:
            raise ValueError(f"refund must be partial, full, multiple or None, not {refund!r}")
        customer = None if guest else self._last_customer
        created = self._now - int(created_days_ago * DAY) + self._tick()
        store = self._store
        oid = mutations.create_order(
            store,
            customer,
            created,
            created_at=created,
            test=test,
            currency=currency,
            line_items=line_items if refund != "multiple" or line_items != 1 else 2,
            **fields,
        )
        self._refund(oid, refund, min(self._now - 1, created + 3600))
        if cancelled:
            mutations.cancel_order(store, oid, min(self._now - 1, created + 3700))
        order = store.orders[oid]
        if silent_child_change:
            at = min(self._now - 1, order.updated_at + 600)
            mutations.refund_order(store, oid, at, amount="1.00", touch_order=False)
        if updated_at is not None:
            order.updated_at = max(order.created_at, int(to_epoch(updated_at)))
        self.order_ids.append(oid)
        return self

    def _refund(self, oid: int, kind: str | None, at: int) -> None:
        store = self._store
        lines = store.orders[oid].line_items
        if kind == "partial":
            mutations.refund_order(store, oid, at, line_items=[(lines[0].id, 1)])
        elif kind == "full":
            mutations.refund_order(store, oid, at)
        elif kind == "multiple":
            for k, line in enumerate(lines[:2]):
                mutations.refund_order(store, oid, at + k, line_items=[(line.id, 1)])

    def build(self) -> Store:
        """The finished store."""
        self._store.reindex_customer_orders()
        return self._store
