"""Hypothesis properties of the domain folds: replay changes nothing; any batch split gives
the same store. The store here is an in-memory model of what storage.py keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from target_crm.domain.batch import fold_customers, fold_orders, merge_links
from target_crm.domain.models import (
    Consent,
    Contact,
    ContactStatus,
    CrmRules,
    Customer,
    DuplicatePolicy,
    Order,
    Refund,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SHOP = "p.myshopify.com"


@dataclass
class Store:
    contacts: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    audits: dict = field(default_factory=dict)
    duplicates: dict = field(default_factory=dict)
    # Every event id the folds emitted, in order: the dicts above keep the first copy only,
    # so a rule emitting an event twice would be invisible in them.
    emitted: list = field(default_factory=list)

    def owners(self, name):
        owners = {}
        for c in self.contacts.values():
            value = getattr(c, name)
            if value and c.status is ContactStatus.ACTIVE:
                owners.setdefault((c.shop_domain, value), set()).add(c.customer_id)
        return owners

    def apply_customers(self, batch, rules):
        ids = {(c.shop_domain, c.id) for c in batch}
        out = fold_customers(
            {k: v for k, v in self.contacts.items() if k in ids},
            self.owners("email_normalized"),
            self.owners("phone_normalized"),
            batch,
            rules=rules,
            now=NOW,
            cutovers={SHOP: None},
        )
        self.contacts.update(out.contacts)
        for _, o in out.outcomes:
            self.emitted.extend(e.event_id for e in o.events)
            for e in o.events:
                self.events.setdefault(e.event_id, e)
            for a in o.audits:
                self.audits.setdefault(a.audit_id, a)
            if o.duplicate:
                self.duplicates.setdefault(
                    (o.duplicate.customer_id, o.duplicate.matched_customer_id), o.duplicate
                )

    def apply_orders(self, batch, rules):
        ids = {(o.shop_domain, o.id) for o in batch}
        out = fold_orders(
            {k: v for k, v in self.snapshots.items() if k in ids},
            merge_links(self.contacts.values()),
            batch,
            rules=rules,
            now=NOW,
            cutovers={SHOP: T0},
        )
        self.snapshots.update(out.snapshots)
        for _, o in out.outcomes:
            self.emitted.extend(e.event_id for e in o.events)
            for e in o.events:
                self.events.setdefault(e.event_id, e)

    def view(self):
        return (self.contacts, self.snapshots, self.events, self.audits, self.duplicates)


consents = st.one_of(
    st.none(),
    st.builds(
        Consent,
        state=st.sampled_from(["SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED"]),
        updated_at=st.integers(0, 5).map(lambda d: T0 + timedelta(days=d)),
    ),
)
customers = st.builds(
    Customer,
    shop_domain=st.just(SHOP),
    id=st.integers(1, 6),
    updated_at=st.integers(0, 6).map(lambda d: T0 + timedelta(days=d)),
    email=st.sampled_from([None, "a@x.com", "A@x.com ", "b@x.com", "c@x.com"]),
    phone=st.sampled_from([None, "+33612345678", "+44 7700 900123"]),
    first_name=st.sampled_from(["Ann", "Bo"]),
    email_consent=consents,
    sms_consent=consents,
)


TOTAL = Decimal("50.00")
REFUND_AMOUNTS = [Decimal("10.00"), Decimal("20.00"), Decimal("25.00"), Decimal("50.00")]
FINANCIAL_STATUSES = ["PAID", "paid", "PARTIALLY_REFUNDED", "REFUNDED", "PENDING", "VOIDED", None]


@st.composite
def order_versions(draw, max_size=14):
    """Versions of orders 1..5; each order has one refund plan, and a version updated on day
    d carries the refunds created by then, so refunds accumulate as they do in Shopify."""
    plans = {}
    for oid in range(1, 6):
        plan, refunded = [], Decimal(0)
        for i, wanted in enumerate(draw(st.lists(st.sampled_from(REFUND_AMOUNTS), max_size=3))):
            amount = min(wanted, TOTAL - refunded)
            if amount <= 0:
                break
            plan.append(
                Refund(id=oid * 10 + i, created_at=T0 + timedelta(days=i + 1), amount=amount)
            )
            refunded += amount
        plans[oid] = plan
    versions = []
    for _ in range(draw(st.integers(0, max_size))):
        oid = draw(st.integers(1, 5))
        updated_at = T0 + timedelta(days=draw(st.integers(0, 4)))
        refunds = tuple(r for r in plans[oid] if r.created_at <= updated_at)
        refunded = sum((r.amount for r in refunds), Decimal(0))
        versions.append(
            Order(
                shop_domain=SHOP,
                id=oid,
                name=f"#{oid}",
                created_at=T0,
                updated_at=updated_at,
                customer_id=draw(st.one_of(st.none(), st.integers(1, 6))),
                currency_code="USD",
                total_price=TOTAL,
                current_total_price=TOTAL - refunded,
                total_refunded=refunded,
                refunds=refunds,
                cancelled_at=draw(st.sampled_from([None, T0 + timedelta(days=3)])),
                fulfillment_status=draw(st.sampled_from(["UNFULFILLED", "FULFILLED"])),
                financial_status=draw(st.sampled_from(FINANCIAL_STATUSES)),
                test=draw(st.booleans()),
            )
        )
    return versions


def split(items, cuts):
    points = sorted({c % (len(items) + 1) for c in cuts})
    out, start = [], 0
    for p in [*points, len(items)]:
        out.append(items[start:p])
        start = p
    return [b for b in out if b]


def run(cs, os_, rules, cuts_c=(), cuts_o=()):
    store = Store()
    # The tap emits each stream in replication-key order (updated_at), as streams do here.
    cs = sorted(cs, key=lambda c: c.updated_at)
    os_ = sorted(os_, key=lambda o: o.updated_at)
    for batch in split(cs, cuts_c) or [[]]:
        store.apply_customers(batch, rules)
    for batch in split(os_, cuts_o) or [[]]:
        store.apply_orders(batch, rules)
    return store


RULES = [CrmRules(), CrmRules(duplicate_policy=DuplicatePolicy.MERGE, event_retention_days=95)]


@settings(max_examples=120, deadline=None)
@given(
    cs=st.lists(customers, max_size=14),
    os_=order_versions(),
    cuts_c=st.lists(st.integers(0, 20), max_size=5),
    cuts_o=st.lists(st.integers(0, 20), max_size=5),
    rules=st.sampled_from(RULES),
)
def test_any_batch_split_gives_the_same_store(cs, os_, cuts_c, cuts_o, rules):
    assert run(cs, os_, rules, cuts_c, cuts_o).view() == run(cs, os_, rules).view()


@settings(max_examples=120, deadline=None)
@given(
    cs=st.lists(customers, max_size=14),
    os_=order_versions(),
    rules=st.sampled_from(RULES),
)
def test_replaying_everything_changes_nothing(cs, os_, rules):
    store = run(cs, os_, rules)
    before = tuple(dict(part) for part in store.view())
    emitted_before = list(store.emitted)
    store.apply_customers(sorted(cs, key=lambda c: c.updated_at), rules)
    store.apply_orders(sorted(os_, key=lambda o: o.updated_at), rules)
    assert store.view() == before
    # The store keeps the first copy of an event id, so also check the replay emitted none.
    assert store.emitted == emitted_before


def has_email_identifier(email):
    # README "Duplicates": an email is trimmed and lower-cased; one without a local part or
    # a domain around its "@" identifies no one.
    value = (email or "").strip()
    return "@" in value and not value.startswith("@") and not value.endswith("@")


@settings(max_examples=80, deadline=None)
@given(cs=st.lists(customers, min_size=1, max_size=14), rules=st.sampled_from(RULES))
def test_one_contact_per_identified_customer_and_no_event_twice(cs, rules):
    store = run(cs, [], rules)
    # README "Identifier": a customer is loaded once any version carries the identifier.
    identified = {c.id for c in cs if has_email_identifier(c.email)}
    assert sorted(customer_id for _, customer_id in store.contacts) == sorted(identified)
    created = sorted(e for e in store.emitted if e.startswith("contact_created:"))
    assert created == sorted(f"contact_created:{SHOP}:{i}" for i in identified)
    assert len(store.emitted) == len(set(store.emitted))


def paid(order):
    # README "Lifetime value": PAID, PARTIALLY_REFUNDED, REFUNDED, matched case-insensitively.
    return order.financial_status is not None and order.financial_status.upper() in {
        "PAID",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    }


def expected_value(order):
    """(counts in order_count, lifetime value) by the README's Lifetime value rule."""
    if order.test or order.cancelled_at is not None or not paid(order):
        return False, Decimal(0)
    net = max(Decimal(0), order.total_price - order.total_refunded)
    return net > 0, net


def applied_versions(os_):
    """The versions a newer-wins store applies, in arrival (updated_at) order: test orders
    are never stored, and a version no newer than the stored one changes nothing."""
    stored, applied = {}, []
    for order in sorted(os_, key=lambda o: o.updated_at):
        if order.test or (order.id in stored and order.updated_at <= stored[order.id]):
            continue
        stored[order.id] = order.updated_at
        applied.append(order)
    return applied


@settings(max_examples=120, deadline=None)
@given(
    cs=st.lists(customers, max_size=10),
    os_=order_versions(),
    rules=st.sampled_from(RULES),
)
def test_order_value_count_and_refund_events_follow_the_readme_rules(cs, os_, rules):
    store = run(cs, os_, rules)
    applied = applied_versions(os_)
    latest = {o.id: o for o in applied}
    got = {
        oid: (s.counts_as_order, s.net_value, s.total_refunded, sorted(s.refund_ids))
        for (_, oid), s in store.snapshots.items()
    }
    want = {
        oid: (*expected_value(o), o.total_refunded, sorted(r.id for r in o.refunds))
        for oid, o in latest.items()
    }
    assert got == want
    # README "Order events": one Order Refunded per Shopify refund, decided by the version
    # that first shows it: none when that version is a guest order or its customer has no
    # contact ("produce no events"); "full" when it brings the refunded total to the total.
    loaded = {customer_id for _, customer_id in store.contacts}
    want_refunds, seen = {}, set()
    for order in applied:
        refunded = Decimal(0)
        for refund in sorted(order.refunds, key=lambda r: (r.created_at, r.id)):
            refunded += refund.amount
            if refund.id in seen:
                continue
            seen.add(refund.id)
            if order.customer_id in loaded:
                kind = "full" if refunded >= order.total_price else "partial"
                want_refunds[f"order_refunded:{SHOP}:{order.id}:{refund.id}"] = (
                    str(refund.amount),
                    kind,
                )
    got_refunds = {
        e.event_id: (e.properties["refund_amount"], e.properties["refund_type"])
        for e in store.events.values()
        if e.kind == "order_refunded"
    }
    assert got_refunds == want_refunds


def test_contact_example_email_change_keeps_one_contact():
    first = Customer(shop_domain=SHOP, id=1, updated_at=T0, email="old@x.com")
    second = Customer(shop_domain=SHOP, id=1, updated_at=T0 + timedelta(days=1), email="new@x.com")
    store = run([first, second], [], CrmRules())
    contact: Contact = store.contacts[(SHOP, 1)]
    assert (len(store.contacts), contact.email_normalized) == (1, "new@x.com")
    assert sorted(e.kind for e in store.events.values()) == ["contact_created", "contact_updated"]
