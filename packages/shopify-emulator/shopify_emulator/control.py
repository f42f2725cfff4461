"""The control API tests use to change the store while a sync runs: Python and HTTP.

HTTP: ``POST /_emulator/<method>`` with a JSON object of keyword arguments; the answer is
``{"result": ...}`` or HTTP 400 ``{"error": "..."}``. ``GET /_emulator/snapshot`` returns
the store. Ids are Shopify's numeric ids (gids are accepted too).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shopify_emulator import mutations
from shopify_emulator.faults import Faults
from shopify_emulator.model import Customer, Order, gid, iso, money
from shopify_emulator.webhook_control import WEBHOOK_METHODS, WebhookControl

if TYPE_CHECKING:
    from shopify_emulator.emulator import Emulator

HTTP_METHODS = (
    "create_customer",
    "update_customer",
    "delete_customer",
    "merge_customers",
    "create_order",
    "update_order",
    "delete_order",
    "refund_order",
    "cancel_order",
    "advance_time",
    "issue_token",
    "set_faults",
    "clear_faults",
    "snapshot",
    "set_protected_data_denied",
    "set_index_lag",
    "usage",
    "reset_usage",
    *WEBHOOK_METHODS,
)


def _id(value: int | str) -> int:
    """Numeric id from an int, a numeric string or a gid."""
    return int(str(value).rsplit("/", 1)[-1])


class Control(WebhookControl):
    """Changes to a running emulator; every method is safe to call from a test thread."""

    def __init__(self, emulator: Emulator) -> None:
        """Control ``emulator``."""
        self.emulator = emulator
        self.store = emulator.store

    def _now(self) -> int:
        return self.store.now()

    def create_customer(self, **fields: Any) -> int:
        """Create a customer (email, phone, first_name, last_name, tags, email_consent...)."""
        with self.store.lock:
            cid = mutations.create_customer(self.store, self._now(), **fields)
            self._customer_event("customers/create", cid)
            return cid

    def update_customer(self, id: int | str, **fields: Any) -> None:
        """Change a customer; bumps its updatedAt."""
        with self.store.lock:
            mutations.update_customer(self.store, _id(id), self._now(), **fields)
            self._customer_event("customers/update", _id(id))

    def delete_customer(self, id: int | str) -> None:
        """Delete a customer without orders (Shopify refuses otherwise)."""
        with self.store.lock:
            mutations.delete_customer(self.store, _id(id))
            self._deleted_customer_event(_id(id))

    def merge_customers(self, keep_id: int | str, remove_id: int | str) -> None:
        """Merge ``remove_id`` into ``keep_id``: orders move, the removed one disappears."""
        with self.store.lock:
            mutations.merge_customers(self.store, _id(keep_id), _id(remove_id), self._now())
            self._deleted_customer_event(_id(remove_id))
            self._customer_event("customers/update", _id(keep_id))

    def create_order(self, customer_id: int | str | None = None, **fields: Any) -> int:
        """Place an order for a customer (None: a guest order); returns the order id."""
        with self.store.lock:
            cid = None if customer_id is None else _id(customer_id)
            oid = mutations.create_order(self.store, cid, self._now(), **fields)
            self._order_event(oid, "orders/create", "orders/updated")
            return oid

    def update_order(self, id: int | str, **fields: Any) -> None:
        """Change tags, note, email or phone of an order; bumps its updatedAt."""
        with self.store.lock:
            mutations.update_order(self.store, _id(id), self._now(), **fields)
            self._order_event(_id(id), "orders/updated")

    def delete_order(self, id: int | str) -> None:
        """Delete an order (it vanishes, as on Shopify)."""
        with self.store.lock:
            mutations.delete_order(self.store, _id(id))

    def refund_order(
        self,
        id: int | str,
        amount: Any = None,
        line_items: list[Any] | None = None,
        *,
        touch_order: bool = True,
    ) -> int:
        """Refund an order; returns the refund id.

        Args:
            id: Order id.
            amount: Amount in shop currency (e.g. ``"12.50"``); default: the lines' value,
                or everything left when no lines are given either.
            line_items: ``[(line_item_id, quantity), ...]`` or dicts with those keys.
            touch_order: False makes this the child-only change: the refund appears while
                the order's own updatedAt stays put (Shopify does this on some edits).
        """
        with self.store.lock:
            rid = mutations.refund_order(
                self.store, _id(id), self._now(), amount, line_items, touch_order=touch_order
            )
            self._refund_event(_id(id), rid, touch_order=touch_order)
            return rid

    def cancel_order(self, id: int | str, reason: str = "CUSTOMER") -> None:
        """Cancel an order; bumps its updatedAt."""
        with self.store.lock:
            mutations.cancel_order(self.store, _id(id), self._now(), reason)
            self._order_event(_id(id), "orders/cancelled", "orders/updated")

    def advance_time(self, seconds: float) -> None:
        """Move store time forward (bucket refill, bulk progress, index lag, URL expiry)."""
        self.store.clock.advance(float(seconds))

    def issue_token(self, scopes: list[str]) -> str:
        """A new app's token with exactly ``scopes`` (own bucket, own bulk operations)."""
        return self.emulator.issue_token(list(scopes))

    def set_faults(self, faults: Faults | None = None, **settings: Any) -> None:
        """Replace the fault settings (a Faults, or its fields as keywords)."""
        self.emulator.faults.set(faults or Faults(**settings))

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self.emulator.faults.clear()

    def set_protected_data_denied(self, denied: bool) -> None:
        """Deny (or allow again) protected customer data: names, emails, phones, addresses."""
        self.emulator.protected_denied = bool(denied)

    def set_index_lag(self, seconds: float) -> None:
        """Delay before changes are visible to ``query:`` filters."""
        self.store.index_lag = float(seconds)

    def usage(self) -> dict[str, int]:
        """What the apps spent on the Admin API since the start or the last reset.

        Returns:
            ``requests`` (every GraphQL request), ``executed`` (charged queries and
            mutations), ``throttled``, ``requested_cost`` and ``actual_cost`` (points),
            ``bulk_operations`` created, ``bulk_downloads`` and ``bulk_download_bytes``.
        """
        return self.emulator.usage.snapshot(len(self.emulator.bulk.ops))

    def reset_usage(self) -> None:
        """Count the API usage from zero again."""
        self.emulator.usage.reset(len(self.emulator.bulk.ops))

    def snapshot(self, include_orders: bool = True) -> dict[str, Any]:
        """The whole store as plain dicts (snake_case, money as strings, times ISO)."""
        with self.store.lock:
            customers = [customer_dict(self.store, c) for c in self.store.customers.values()]
            orders = []
            if include_orders:
                for oid in self.store.order_ids():
                    order = self.store.order(oid)
                    if order is not None:
                        orders.append(order_dict(order))
        return {"shop_domain": self.store.shop_domain, "customers": customers, "orders": orders}


def customer_dict(store: Any, c: Customer) -> dict[str, Any]:
    """A customer as the snapshot shows it."""
    count, spent = store.customer_totals(c.id)
    return {
        "id": c.id,
        "admin_graphql_api_id": gid("Customer", c.id),
        "email": c.email,
        "phone": c.phone,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "display_name": c.display_name,
        "state": c.state,
        "tags": list(c.tags),
        "verified_email": c.verified_email,
        "note": c.note,
        "email_marketing_state": c.email_state if c.email else None,
        "sms_marketing_state": c.sms_state if c.phone else None,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "number_of_orders": count,
        "amount_spent": money(spent),
        "default_address": dict(c.address) if c.address else None,
        "metafields": [asdict(m) for m in c.metafields],
    }


def order_dict(o: Order) -> dict[str, Any]:
    """An order as the snapshot shows it."""
    return {
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "name": o.name,
        "customer_id": o.customer_id,
        "email": o.email,
        "phone": o.phone,
        "test": o.test,
        "created_at": iso(o.created_at),
        "processed_at": iso(o.processed_at),
        "updated_at": iso(o.updated_at),
        "cancelled_at": iso(o.cancelled_at),
        "cancel_reason": o.cancel_reason,
        "closed_at": iso(o.closed_at),
        "currency_code": "USD",
        "presentment_currency_code": o.presentment_currency,
        "total_price": money(o.total_cents),
        "subtotal_price": money(o.subtotal_cents),
        "total_tax": money(o.tax_cents),
        "current_total_price": money(o.current_total_cents),
        "total_refunded": money(o.refunded_cents),
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status,
        "source_name": o.source_name,
        "tags": list(o.tags),
        "line_items": [
            {
                "id": li.id,
                "sku": li.sku,
                "title": li.title,
                "quantity": li.quantity,
                "current_quantity": li.quantity - o.refunded_quantity(li.id),
                "price": money(li.unit_cents),
                "product_id": li.product_id,
                "variant_id": li.variant_id,
            }
            for li in o.line_items
        ],
        "refunds": [
            {
                "id": r.id,
                "created_at": iso(r.created_at),
                "updated_at": iso(r.updated_at),
                "amount": money(r.amount_cents),
                "note": r.note,
                "refund_line_items": [
                    {
                        "line_item_id": rl.line_item_id,
                        "quantity": rl.quantity,
                        "subtotal": money(rl.subtotal_cents),
                    }
                    for rl in r.lines
                ],
            }
            for r in o.refunds
        ],
    }


def control_routes(emulator: Emulator) -> list[Route]:
    """HTTP routes of the control API under ``/_emulator/``."""
    control = Control(emulator)

    async def call(request: Request) -> Response:
        name = request.path_params["method"]
        if name not in HTTP_METHODS:
            return JSONResponse({"error": f"unknown control method {name!r}"}, status_code=404)
        raw = await request.body()
        try:
            kwargs = json.loads(raw) if raw else {}
            if not isinstance(kwargs, dict):
                raise TypeError("body must be a JSON object of keyword arguments")
            result = await run_in_threadpool(lambda: getattr(control, name)(**kwargs))
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": f"{name}: {error}"}, status_code=400)
        return JSONResponse({"result": result})

    return [
        Route("/_emulator/{method}", call, methods=["POST", "GET"]),
    ]
