"""The webhook half of the control API: subscriptions, settings, faults, compliance, the log.

Mixed into :class:`shopify_emulator.control.Control`; the store-changing methods there call
the ``_*_event`` hooks below while they hold the store lock, so the payload is the state the
change left. The deliveries themselves go out from the dispatcher's worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopify_emulator import control as _control  # control imports us: module access only
from shopify_emulator.model import gid
from shopify_emulator.webhooks import (
    COMPLIANCE_TOPICS,
    WebhookFaults,
    retry_delays,
    topic_from_enum,
)

if TYPE_CHECKING:
    from shopify_emulator.emulator import Emulator
    from shopify_emulator.store import Store

WEBHOOK_METHODS = (
    "configure_webhooks",
    "subscribe_webhook",
    "unsubscribe_webhook",
    "webhook_subscriptions",
    "set_webhook_faults",
    "clear_webhook_faults",
    "send_compliance_webhook",
    "webhook_deliveries",
    "wait_webhooks_idle",
    "webhook_retry_schedule",
)
SHOP_ID = 548380009


class WebhookControl:
    """Control-API methods for webhooks (a mixin: ``self.emulator`` and ``self.store``)."""

    emulator: Emulator
    store: Store

    def configure_webhooks(self, **settings: Any) -> None:
        """Change ``client_secret``, ``timeout_seconds``, ``time_scale`` or ``compliance_url``.

        ``webhook_time_scale`` is accepted for ``time_scale`` (1/3600 turns 4 hours into 4 s).
        """
        if "webhook_time_scale" in settings:
            settings["time_scale"] = settings.pop("webhook_time_scale")
        for name in ("timeout_seconds", "time_scale"):
            if name in settings:
                settings[name] = float(settings[name])
                if settings[name] <= 0:
                    raise ValueError(f"configure_webhooks: {name} must be positive")
        self.emulator.webhooks.configure(**settings)

    def subscribe_webhook(self, topic: str, callback_url: str, format: str = "JSON") -> str:
        """Subscribe ``callback_url`` to ``topic`` (``customers/create`` or CUSTOMERS_CREATE).

        Returns:
            The subscription's gid.
        """
        sub = self.emulator.webhooks.subscribe(topic_from_enum(topic), callback_url, format)
        return sub.gid

    def unsubscribe_webhook(self, id: int | str) -> None:
        """Delete a subscription; ValueError when there is none with that id."""
        number = int(str(id).rsplit("/", 1)[-1])
        if not self.emulator.webhooks.unsubscribe(number):
            raise ValueError(f"Webhook subscription {number} does not exist")

    def webhook_subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription: id (gid), topic, callback_url, format."""
        subs = sorted(self.emulator.webhooks.subscriptions.values(), key=lambda s: s.id)
        return [
            {"id": s.gid, "topic": s.topic, "callback_url": s.callback_url, "format": s.format}
            for s in subs
        ]

    def set_webhook_faults(
        self,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        """Duplicate, reorder or drop deliveries with these probabilities (seeded)."""
        for name, rate in (
            ("duplicate_rate", duplicate_rate),
            ("reorder_rate", reorder_rate),
            ("drop_rate", drop_rate),
        ):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"set_webhook_faults: {name} must be between 0 and 1")
        self.emulator.webhooks.set_faults(
            WebhookFaults(float(duplicate_rate), float(reorder_rate), float(drop_rate), int(seed))
        )

    def clear_webhook_faults(self) -> None:
        """Deliver every change once, in order."""
        self.emulator.webhooks.set_faults(WebhookFaults())

    def send_compliance_webhook(
        self,
        topic: str,
        customer_id: int | None = None,
        email: str | None = None,
        phone: str | None = None,
        orders: list[int] | None = None,
    ) -> str:
        """Send a compliance topic to the compliance URL; returns its webhook id.

        Args:
            topic: ``customers/data_request``, ``customers/redact`` or ``shop/redact``.
            customer_id: The customer's id (the store's record fills in email and phone).
            email: The customer's email when it is not in the store (or overriding it).
            phone: The customer's phone likewise.
            orders: Order ids requested or to redact; default: the customer's orders.
        """
        if topic not in COMPLIANCE_TOPICS:
            raise ValueError(
                f"send_compliance_webhook: topic {topic!r} is not one of "
                f"{', '.join(COMPLIANCE_TOPICS)}"
            )
        domain = self.store.shop_domain
        payload: dict[str, Any] = {"shop_id": SHOP_ID, "shop_domain": domain}
        if topic != "shop/redact":
            payload["customer"] = self._compliance_customer(customer_id, email, phone)
            order_ids = list(orders) if orders is not None else self._orders_of(customer_id)
            if topic == "customers/redact":
                payload["orders_to_redact"] = order_ids
            else:
                payload["orders_requested"] = order_ids
                payload["data_request"] = {"id": len(self.emulator.webhooks.log) + 9999}
        return self.emulator.webhooks.send_compliance(topic, payload)

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """The delivery log: topic, webhook_id, event_id, attempts, last_status, state..."""
        return self.emulator.webhooks.deliveries()

    def wait_webhooks_idle(self, timeout: float = 30.0) -> bool:
        """Block until no delivery is pending (True), or ``timeout`` seconds passed (False)."""
        return self.emulator.webhooks.wait_idle(float(timeout))

    def webhook_retry_schedule(self) -> list[float]:
        """Seconds before each of the 8 retries, after ``time_scale``."""
        scale = self.emulator.webhooks.settings.time_scale
        return [delay * scale for delay in retry_delays()]

    # --- hooks called by Control's store changes (store lock held) ----------------------

    def _customer_event(self, topic: str, cid: int) -> None:
        customer = self.store.customers.get(cid)
        if customer is not None and self.emulator.webhooks.subscriptions:
            self.emulator.webhooks.emit([(topic, _control.customer_dict(self.store, customer))])

    def _deleted_customer_event(self, cid: int) -> None:
        if self.emulator.webhooks.subscriptions:
            payload = {"id": cid, "admin_graphql_api_id": gid("Customer", cid)}
            self.emulator.webhooks.emit([("customers/delete", payload)])

    def _order_event(self, oid: int, *topics: str) -> None:
        order = self.store.order(oid)
        if order is not None and self.emulator.webhooks.subscriptions:
            payload = _control.order_dict(order)
            self.emulator.webhooks.emit([(topic, payload) for topic in topics])

    def _refund_event(self, oid: int, rid: int, *, touch_order: bool) -> None:
        order = self.store.order(oid)
        if order is None or not self.emulator.webhooks.subscriptions:
            return
        payload = _control.order_dict(order)
        refund = next((r for r in payload["refunds"] if r["id"] == rid), {"id": rid})
        refund_payload = {
            **refund,
            "order_id": oid,
            "admin_graphql_api_id": gid("Refund", rid),
        }
        topics = [("refunds/create", refund_payload)]
        if touch_order:
            topics.append(("orders/updated", payload))
        self.emulator.webhooks.emit(topics)

    def _compliance_customer(
        self, cid: int | None, email: str | None, phone: str | None
    ) -> dict[str, Any]:
        customer = self.store.customers.get(cid) if cid is not None else None
        return {
            "id": cid,
            "email": email if email is not None else (customer.email if customer else None),
            "phone": phone if phone is not None else (customer.phone if customer else None),
        }

    def _orders_of(self, cid: int | None) -> list[int]:
        if cid is None:
            return []
        with self.store.lock:
            found = []
            for oid in self.store.order_ids():
                order = self.store.order(oid)
                if order is not None and order.customer_id == cid:
                    found.append(oid)
            return found
