"""Domain rules as tables: identity, consent, order value, order events, roster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from target_crm.domain.consent import APPLIED, NOT_SOURCE, STALE, decide_consent
from target_crm.domain.events import triggers_automations, within_retention
from target_crm.domain.identity import normalize_email, resolve_contact
from target_crm.domain.models import Consent, ConsentSource, CrmRules, Order, Refund
from target_crm.domain.orders import apply_order, order_value
from target_crm.domain.roster import classify_departures

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SHOP = "s.myshopify.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann@Example.COM ", "ann@example.com"),
        ("a.b+tag@gmail.com", "a.b+tag@gmail.com"),
        ("", None),
        ("no-at-sign", None),
        ("@example.com", None),
        (None, None),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("known", "email_owner", "phone_owner", "rule", "matched"),
    [
        ({7}, 9, 9, "shopify_id", 7),
        (set(), 9, 8, "email", 9),
        (set(), None, 8, "phone", 8),
        (set(), 7, None, None, None),  # the owner is the customer itself
        (set(), None, None, None, None),
    ],
)
def test_resolve_contact_order_of_rules(known, email_owner, phone_owner, rule, matched):
    resolution = resolve_contact(7, known, email_owner, phone_owner)
    assert (resolution.rule, resolution.matched_customer_id) == (rule, matched)


def _consent(state, days):
    return Consent(state=state, updated_at=T0 + timedelta(days=days))


@pytest.mark.parametrize(
    ("current", "incoming", "source", "kept_state", "decision"),
    [
        (None, _consent("SUBSCRIBED", 0), ConsentSource.SHOPIFY, "SUBSCRIBED", APPLIED),
        (
            _consent("SUBSCRIBED", 0),
            _consent("UNSUBSCRIBED", 1),
            ConsentSource.SHOPIFY,
            "UNSUBSCRIBED",
            APPLIED,
        ),
        (
            _consent("UNSUBSCRIBED", 2),
            _consent("SUBSCRIBED", 1),
            ConsentSource.SHOPIFY,
            "UNSUBSCRIBED",
            STALE,
        ),
        (
            _consent("UNSUBSCRIBED", 0),
            _consent("SUBSCRIBED", 5),
            ConsentSource.CRM,
            "UNSUBSCRIBED",
            NOT_SOURCE,
        ),
        (None, _consent("SUBSCRIBED", 0), ConsentSource.CRM, "SUBSCRIBED", APPLIED),
        (
            _consent("SUBSCRIBED", 0),
            _consent("SUBSCRIBED", 3),
            ConsentSource.SHOPIFY,
            "SUBSCRIBED",
            None,
        ),
        (
            _consent("SUBSCRIBED", 0),
            Consent("UNSUBSCRIBED", None, None),
            ConsentSource.SHOPIFY,
            "SUBSCRIBED",
            STALE,
        ),
    ],
)
def test_consent_newer_wins_and_is_audited(current, incoming, source, kept_state, decision):
    result = decide_consent(
        shop_domain=SHOP,
        customer_id=1,
        channel="email",
        current=current,
        incoming=incoming,
        source=source,
        now=NOW,
    )
    assert result.consent is not None
    assert result.consent.state == kept_state
    assert (result.audit.decision if result.audit else None) == decision


def make_order(**over):
    base = {
        "shop_domain": SHOP,
        "id": 1001,
        "name": "#1001",
        "created_at": T0,
        "updated_at": T0,
        "customer_id": 5,
        "currency_code": "USD",
        "total_price": Decimal("100.00"),
        "current_total_price": Decimal("100.00"),
        "total_refunded": Decimal("0"),
        "financial_status": "PAID",
    }
    base.update(over)
    return Order(**base)


@pytest.mark.parametrize(
    ("over", "counts", "net"),
    [
        ({}, True, Decimal("100.00")),
        ({"total_refunded": Decimal("30.00")}, True, Decimal("70.00")),
        ({"total_refunded": Decimal("100.00")}, False, Decimal("0")),
        ({"cancelled_at": T0}, False, Decimal("0")),
        ({"total_price": Decimal("0"), "current_total_price": Decimal("0")}, True, Decimal("0")),
    ],
)
def test_order_value_refunds_and_cancellations_reduce_ltv_and_count(over, counts, net):
    assert order_value(make_order(**over), CrmRules()) == (counts, net)


RULES = CrmRules()


def kinds(outcome):
    return [(e.kind, e.event_id, e.triggers_automations) for e in outcome.events]


def test_new_order_is_placed_at_its_original_time_with_deterministic_id():
    out = apply_order(None, make_order(), 5, rules=RULES, now=NOW, cutover=None)
    assert kinds(out) == [("order_placed", "order_placed:s.myshopify.com:1001", False)]
    assert out.events[0].occurred_at == T0
    assert out.events[0].properties["total_price"] == "100.00"


def test_replayed_or_older_version_changes_nothing():
    first = apply_order(None, make_order(), 5, rules=RULES, now=NOW, cutover=None)
    again = apply_order(first.snapshot, make_order(), 5, rules=RULES, now=NOW, cutover=None)
    assert again.outcome == "unchanged"
    assert again.events == ()
    assert again.snapshot is first.snapshot


def test_partial_then_full_refund_and_cancellation_after_cutover_trigger():
    placed = apply_order(None, make_order(), 5, rules=RULES, now=NOW, cutover=T0)
    r1 = Refund(id=1, created_at=T0 + timedelta(days=1), amount=Decimal("40"))
    partial = make_order(updated_at=r1.created_at, refunds=(r1,), total_refunded=Decimal("40"))
    out = apply_order(placed.snapshot, partial, 5, rules=RULES, now=NOW, cutover=T0)
    assert [(e.kind, e.properties["refund_type"], e.triggers_automations) for e in out.events] == [
        ("order_refunded", "partial", True)
    ]
    r2 = Refund(id=2, created_at=T0 + timedelta(days=2), amount=Decimal("60"))
    full = make_order(
        updated_at=r2.created_at + timedelta(hours=1),
        refunds=(r1, r2),
        total_refunded=Decimal("100"),
        cancelled_at=r2.created_at,
    )
    out2 = apply_order(out.snapshot, full, 5, rules=RULES, now=NOW, cutover=T0)
    assert [e.event_id for e in out2.events] == [
        "order_cancelled:s.myshopify.com:1001",
        "order_refunded:s.myshopify.com:1001:2",
    ]
    assert out2.events[1].properties["refund_type"] == "full"
    assert (out2.snapshot.counts_as_order, out2.snapshot.net_value) == (False, Decimal("0"))


def test_other_changes_are_order_updated_and_no_change_is_silent():
    placed = apply_order(None, make_order(), 5, rules=RULES, now=NOW, cutover=T0)
    later = T0 + timedelta(days=1)
    fulfilled = make_order(updated_at=later, fulfillment_status="FULFILLED")
    out = apply_order(placed.snapshot, fulfilled, 5, rules=RULES, now=NOW, cutover=T0)
    assert [e.event_id for e in out.events] == [f"order_updated:{SHOP}:1001:{later.isoformat()}"]
    touched = make_order(updated_at=later)  # newer, but nothing a destination shows changed
    assert apply_order(placed.snapshot, touched, 5, rules=RULES, now=NOW, cutover=T0).events == ()


def test_retention_window_suppresses_and_counts_old_events():
    rules = CrmRules(event_retention_days=30)
    out = apply_order(None, make_order(), 5, rules=rules, now=NOW, cutover=None)
    assert out.events == ()
    assert out.suppressed == ("outside_retention_window",)
    assert out.snapshot.net_value == Decimal("100.00")  # the value still counts


@pytest.mark.parametrize(
    ("customer_id", "owner", "reason"),
    [(None, None, "guest_order"), (5, None, "contact_not_loaded")],
)
def test_orders_without_contact_keep_value_but_suppress_events(customer_id, owner, reason):
    out = apply_order(
        None, make_order(customer_id=customer_id), owner, rules=RULES, now=NOW, cutover=None
    )
    assert out.events == ()
    assert out.suppressed == (reason,)


def test_configured_event_names():
    rules = CrmRules(
        order_placed_event_name="Shopify - Order Placed", event_name_prefix="Shopify - "
    )
    placed = apply_order(None, make_order(cancelled_at=T0), 5, rules=rules, now=NOW, cutover=None)
    assert [e.name for e in placed.events] == [
        "Shopify - Order Placed",
        "Shopify - Order Cancelled",
    ]


@pytest.mark.parametrize(
    ("source_time", "cutover", "expected"),
    [(T0, None, False), (T0, T0, False), (T0 + timedelta(seconds=1), T0, True)],
)
def test_silent_backfill_flag(source_time, cutover, expected):
    assert triggers_automations(source_time, cutover) is expected


def test_retention_boundaries():
    assert within_retention(NOW - timedelta(days=30), NOW, 30)
    assert not within_retention(NOW - timedelta(days=30, seconds=1), NOW, 30)
    assert within_retention(T0.replace(year=2000), NOW, None)


def test_roster_departures_merged_when_orders_moved():
    out = classify_departures(SHOP, [3, 4], {3: 9}, rules=RULES, now=NOW, cutover=T0)
    assert [(d.customer_id, d.fate, d.merged_into, d.event.kind) for d in out] == [
        (3, "merged", 9, "contact_merged"),
        (4, "deleted", None, "contact_deleted"),
    ]
    assert out[0].event.customer_id == 9
