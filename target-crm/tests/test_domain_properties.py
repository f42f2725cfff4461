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


@st.composite
def orders(draw):
    oid = draw(st.integers(1, 5))
    n_refunds = draw(st.integers(0, 2))
    tuple(
        Refund(id=oid * 10 + i, created_at=T0 + timedelta(days=i + 1), amount=Decimal("20.00"))
        for i in range(n_refunds)
    )
    return Order(
        shop_domain=SHOP,
        id=oid,
        name=f"#{oid}",
        created_at=T0,
        updated_at=T0 + timedelta(days=draw(st.integers(0, 4))),
        customer_id=draw(st.one_of(st.none(), st.integers(1, 6))),
        currency_code="USD",
        total_price=Decimal("50.00"),
        current_total_price=Decimal("50.00") - 20 * n_refunds,
        total_refunded=Decimal("20.00") * n_refunds,
        cancelled_at=draw(st.sampled_from([None, T0 + timedelta(days=3)])),
        fulfillment_status=draw(st.sampled_from(["UNFULFILLED", "FULFILLED"])),
        financial_status=draw(st.sampled_from(["PAID", "PENDING", "VOIDED", None])),
        test=draw(st.booleans()),
    )


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
    os_=st.lists(orders(), max_size=14),
    cuts_c=st.lists(st.integers(0, 20), max_size=5),
    cuts_o=st.lists(st.integers(0, 20), max_size=5),
    rules=st.sampled_from(RULES),
)
def test_any_batch_split_gives_the_same_store(cs, os_, cuts_c, cuts_o, rules):
    assert run(cs, os_, rules, cuts_c, cuts_o).view() == run(cs, os_, rules).view()


@settings(max_examples=120, deadline=None)
@given(
    cs=st.lists(customers, max_size=14),
    os_=st.lists(orders(), max_size=14),
    rules=st.sampled_from(RULES),
)
def test_replaying_everything_changes_nothing(cs, os_, rules):
    store = run(cs, os_, rules)
    before = tuple(dict(part) for part in store.view())
    store.apply_customers(sorted(cs, key=lambda c: c.updated_at), rules)
    store.apply_orders(sorted(os_, key=lambda o: o.updated_at), rules)
    assert store.view() == before


@settings(max_examples=60, deadline=None)
@given(cs=st.lists(customers, min_size=1, max_size=14))
def test_one_contact_per_shopify_customer_and_no_event_twice(cs):
    store = run(cs, [], CrmRules())
    loaded = {c.id for c in cs if c.email and "@" in c.email} | {k[1] for k in store.contacts}
    assert {k[1] for k in store.contacts} <= loaded
    created = [e for e in store.events.values() if e.kind == "contact_created"]
    assert len(created) == len(store.contacts)


def test_contact_example_email_change_keeps_one_contact():
    first = Customer(shop_domain=SHOP, id=1, updated_at=T0, email="old@x.com")
    second = Customer(shop_domain=SHOP, id=1, updated_at=T0 + timedelta(days=1), email="new@x.com")
    store = run([first, second], [], CrmRules())
    contact: Contact = store.contacts[(SHOP, 1)]
    assert (len(store.contacts), contact.email_normalized) == (1, "new@x.com")
    assert sorted(e.kind for e in store.events.values()) == ["contact_created", "contact_updated"]
