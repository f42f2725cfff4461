"""Webhook subscriptions and signed deliveries, sent from a background worker thread.

A change made through the control API is turned into one *event* (one ``X-Shopify-Event-Id``)
that reaches every subscription of each topic it fires; each (event, topic, subscription) is
one *delivery* (one ``X-Shopify-Webhook-Id``, kept across its retries). See the README's
"Webhooks" section for the rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from shopify_emulator.model import gid

TOPICS = (
    "customers/create",
    "customers/update",
    "customers/delete",
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
)
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
RETRY_WINDOW_SECONDS = 4 * 3600.0
RETRIES = 8
DELIVERY_STATES = ("pending", "delivered", "failed", "removed", "dropped")


def retry_delays(retries: int = RETRIES, window: float = RETRY_WINDOW_SECONDS) -> list[float]:
    """Seconds to wait before each retry: doubling each time, summing to ``window``.

    Args:
        retries: How many retries follow the first attempt.
        window: Total seconds between the first attempt and the last retry.

    Returns:
        ``retries`` delays; delay k is ``window * 2**k / (2**retries - 1)``.
    """
    unit = window / (2**retries - 1)
    return [unit * 2**k for k in range(retries)]


def sign(body: bytes, secret: str) -> str:
    """Shopify's signature: base64 of the HMAC-SHA256 of the raw body, keyed by the secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def topic_enum(topic: str) -> str:
    """``customers/create`` -> ``CUSTOMERS_CREATE`` (the GraphQL WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").upper()


def topic_from_enum(value: str) -> str:
    """``CUSTOMERS_CREATE`` -> ``customers/create``; ValueError for a topic not served."""
    for topic in TOPICS:
        if topic_enum(topic) == value.upper() or topic == value:
            return topic
    raise ValueError(f"topic {value!r} is not one the emulator sends")


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """How deliveries are made. ``time_scale`` multiplies every retry delay (1/3600: 4 h -> 4 s)."""

    # repr=False: the settings may be logged, the secret never is.
    client_secret: str = field(default="emulator-client-secret", repr=False)
    timeout_seconds: float = 5.0
    time_scale: float = 1.0
    compliance_url: str | None = None
    api_version: str = "2025-01"


@dataclass(frozen=True, slots=True)
class WebhookFaults:
    """Delivery faults, each a probability per delivery drawn from a seeded generator."""

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription, as ``webhookSubscriptionCreate`` makes it."""

    id: int
    topic: str
    callback_url: str
    format: str
    created_at: str

    @property
    def gid(self) -> str:
        """``gid://shopify/WebhookSubscription/<id>``."""
        return gid("WebhookSubscription", self.id)


@dataclass(slots=True)
class Delivery:
    """One delivery and what happened to it (mutable: the worker records attempts)."""

    seq: int
    webhook_id: str
    event_id: str
    topic: str
    url: str
    body: bytes
    triggered_at: str
    subscription_id: int | None
    attempts: int = 0
    last_status: int | None = None
    state: str = "pending"
    next_at: float = 0.0
    duplicate: bool = False
    held: bool = False
    extra_sends: int = field(default=0)

    def log_entry(self) -> dict[str, Any]:
        """The delivery as the control API's log shows it."""
        return {
            "topic": self.topic,
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "url": self.url,
            "subscription_id": self.subscription_id,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "state": self.state,
            "duplicate_sends": self.extra_sends,
            "payload": json.loads(self.body),
        }


def check_callback_url(url: str) -> str | None:
    """The userError message for a callback URL Shopify refuses, or None when it is fine."""
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return "Address is invalid"
    return None


class WebhookDispatcher:
    """Subscriptions, the delivery log and the worker thread that sends deliveries."""

    def __init__(self, shop_domain: str, settings: WebhookSettings | None = None) -> None:
        """Dispatch for ``shop_domain``; the worker starts with the first delivery."""
        self.shop_domain = shop_domain
        self.settings = settings or WebhookSettings()
        self.faults = WebhookFaults()
        self._rng = random.Random(0)
        self.subscriptions: dict[int, Subscription] = {}
        self.log: list[Delivery] = []
        self._queue: list[Delivery] = []
        self._held: list[Delivery] = []
        self._next_sub = 1
        self._seq = 0
        self._sending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # --- configuration -------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Replace some settings (client_secret, timeout_seconds, time_scale, compliance_url)."""
        with self._cond:
            values = {
                name: getattr(self.settings, name)
                for name in ("client_secret", "timeout_seconds", "time_scale")
            }
            values["compliance_url"] = self.settings.compliance_url
            values["api_version"] = self.settings.api_version
            unknown = set(changes) - set(values)
            if unknown:
                raise ValueError(f"unknown webhook setting(s) {', '.join(sorted(unknown))}")
            url = changes.get("compliance_url")
            if url is not None and check_callback_url(url):
                raise ValueError("compliance_url must be an http or https URL")
            values.update(changes)
            self.settings = WebhookSettings(**values)

    def set_faults(self, faults: WebhookFaults) -> None:
        """Replace the delivery faults and reseed their generator (deterministic)."""
        with self._cond:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    # --- subscriptions -------------------------------------------------------------------

    def subscribe(self, topic: str, callback_url: str, fmt: str = "JSON") -> Subscription:
        """Add a subscription; ValueError with Shopify's message when it is refused."""
        problem = check_callback_url(callback_url)
        if problem:
            raise ValueError(problem)
        if fmt != "JSON":
            raise ValueError("Format is not supported by the emulator (JSON only)")
        with self._cond:
            for sub in self.subscriptions.values():
                if sub.topic == topic and sub.callback_url == callback_url:
                    raise ValueError("Address for this topic has already been taken")
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            sub = Subscription(self._next_sub, topic, callback_url, fmt, created)
            self._next_sub += 1
            self.subscriptions[sub.id] = sub
            return sub

    def unsubscribe(self, sub_id: int) -> bool:
        """Remove a subscription; False when there was none with that id."""
        with self._cond:
            return self.subscriptions.pop(sub_id, None) is not None

    # --- deliveries ----------------------------------------------------------------------

    def emit(self, topics: list[tuple[str, dict[str, Any]]]) -> str:
        """Queue one change: each (topic, payload) to each of its subscriptions.

        Returns:
            The event id shared by every delivery of this change.
        """
        event_id = str(uuid.uuid4())
        triggered = _now_iso()
        with self._cond:
            for topic, payload in topics:
                body = json.dumps(payload, separators=(",", ":")).encode()
                for sub in list(self.subscriptions.values()):
                    if sub.topic == topic:
                        self._add(
                            topic,
                            sub.callback_url,
                            body,
                            event_id=event_id,
                            at=triggered,
                            sub=sub.id,
                        )
            self._cond.notify_all()
        return event_id

    def send_compliance(self, topic: str, payload: dict[str, Any]) -> str:
        """Queue a compliance delivery to the configured compliance URL; returns its webhook id."""
        if topic not in COMPLIANCE_TOPICS:
            raise ValueError(f"topic {topic!r} is not a compliance topic")
        url = self.settings.compliance_url
        if not url:
            raise ValueError("no compliance_url configured (configure_webhooks)")
        body = json.dumps(payload, separators=(",", ":")).encode()
        with self._cond:
            delivery = self._add(
                topic, url, body, event_id=str(uuid.uuid4()), at=_now_iso(), sub=None
            )
            self._cond.notify_all()
            return delivery.webhook_id

    def _add(
        self, topic: str, url: str, body: bytes, *, event_id: str, at: str, sub: int | None
    ) -> Delivery:
        self._seq += 1
        delivery = Delivery(self._seq, str(uuid.uuid4()), event_id, topic, url, body, at, sub)
        self.log.append(delivery)
        draw = self._rng.random
        faults = self.faults
        if faults.drop_rate and draw() < faults.drop_rate:
            delivery.state = "dropped"
            return delivery
        delivery.duplicate = bool(faults.duplicate_rate and draw() < faults.duplicate_rate)
        if faults.reorder_rate and not self._held and draw() < faults.reorder_rate:
            # Held back until the next delivery has gone out: a later change arrives first.
            delivery.held = True
            self._held.append(delivery)
            return delivery
        self._queue.append(delivery)
        if self._held:
            self._queue.extend(self._held)
            for held in self._held:
                held.held = False
            self._held.clear()
        self._ensure_worker()
        return delivery

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(
                target=self._run, name="webhook-deliveries", daemon=True
            )
            self._thread.start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no delivery is pending; a held (reordered) one is released first.

        Returns:
            True when idle, False when ``timeout`` seconds passed first.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._held:
                for held in self._held:
                    held.held = False
                self._queue.extend(self._held)
                self._held.clear()
                self._ensure_worker()
                self._cond.notify_all()
            while self._queue or self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def deliveries(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first."""
        with self._cond:
            return [d.log_entry() for d in self.log]

    def stop(self) -> None:
        """Stop the worker (pending deliveries stay pending)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the worker ----------------------------------------------------------------------

    def _next_ready(self) -> Delivery | None:
        """Wait for the first queued delivery whose time has come (None when stopped)."""
        while not self._stopped:
            now = time.monotonic()
            ready = [d for d in self._queue if d.next_at <= now]
            if ready:
                delivery = ready[0]
                self._queue.remove(delivery)
                self._sending += 1
                return delivery
            waits = [d.next_at - now for d in self._queue]
            self._cond.wait(min(waits) if waits else None)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_ready()
                settings = self.settings
            if delivery is None:
                return
            status = self._post(delivery, settings)
            with self._cond:
                self._sending -= 1
                self._record(delivery, status, settings)
                self._cond.notify_all()

    def _record(self, delivery: Delivery, status: int | None, settings: WebhookSettings) -> None:
        delivery.attempts += 1
        delivery.last_status = status
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            if delivery.duplicate:
                delivery.duplicate = False
                delivery.extra_sends += 1
                self._sending += 1  # sent again at once, outside the lock
                threading.Thread(target=self._resend, args=(delivery, settings)).start()
            return
        if delivery.state == "removed":
            return
        delays = retry_delays()
        if delivery.attempts > len(delays):
            delivery.state = "failed"
            self._remove_subscription(delivery.subscription_id)
            return
        delivery.next_at = time.monotonic() + delays[delivery.attempts - 1] * settings.time_scale
        self._queue.append(delivery)

    def _resend(self, delivery: Delivery, settings: WebhookSettings) -> None:
        self._post(delivery, settings)
        with self._cond:
            self._sending -= 1
            self._cond.notify_all()

    def _remove_subscription(self, sub_id: int | None) -> None:
        # Shopify removes a subscription whose deliveries keep failing after the last retry.
        if sub_id is None:
            return
        self.subscriptions.pop(sub_id, None)
        for other in list(self._queue):
            if other.subscription_id == sub_id:
                other.state = "removed"
                self._queue.remove(other)

    def _post(self, delivery: Delivery, settings: WebhookSettings) -> int | None:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(delivery.body, settings.client_secret),
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
            "X-Shopify-API-Version": settings.api_version,
        }
        # Only http(s) URLs get here: subscribe and configure refuse every other scheme.
        request = urllib.request.Request(delivery.url, delivery.body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (OSError, ValueError, http.client.HTTPException):
            return None  # no answer (refused, reset, timed out): counted as a failure


def _now_iso() -> str:
    ns = time.time_ns()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000))
    return f"{base}.{ns % 1_000_000_000:09d}Z"
