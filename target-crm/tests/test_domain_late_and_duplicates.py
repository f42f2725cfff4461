"""Late identifiers join earlier orders; an update that makes a duplicate applies the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_crm.domain.batch import fold_customers
from target_crm.domain.contacts import apply_customer
from target_crm.domain.identity import NEW_PERSON, Resolution
from target_crm.domain.late_orders import join_orders
from target_crm.domain.models import (
    Contact,
    ContactStatus,
    CrmRules,
    Customer,
    DuplicatePolicy,
    OrderSnapshot,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SHOP = "s.myshopify.com"


def snap(order_id: int, days: int, *, customer: int | None = 7, owner: int | None = None):
    return OrderSnapshot(
        shop_domain=SHOP,
        order_id=order_id,
        name=f"#{order_id}",
        customer_id=customer,
        contact_customer_id=owner,
        previous_customer_id=None,
        created_at=T0 + timedelta(days=days),
        updated_at=T0 + timedelta(days=days),
        cancelled=False,
        refund_ids=frozenset(),
        fingerprint="f",
        counts_as_order=True,
        net_value=Decimal("10.00"),
        total_price=Decimal("10.00"),
        total_refunded=Decimal("0"),
        currency_code="USD",
        financial_status="PAID",
    )


@pytest.mark.parametrize(
    ("orphans", "owner", "rules", "cutover", "joined", "events", "suppressed"),
    [
        ([snap(1, 0)], 7, CrmRules(), None, [(1, 7)], [(1, T0, False)], []),
        (
            [snap(2, 5), snap(1, 0)],
            7,
            CrmRules(),
            T0 + timedelta(days=1),
            [(1, 7), (2, 7)],
            [(1, T0, False), (2, T0 + timedelta(days=5), True)],
            [],
        ),
        ([snap(1, 0)], 3, CrmRules(), None, [(1, 3)], [(1, T0, False)], []),
        (
            [snap(1, 0)],
            7,
            CrmRules(event_retention_days=30),
            None,
            [(1, 7)],
            [],
            ["outside_retention_window"],
        ),
        ([snap(1, 0, owner=9)], 7, CrmRules(), None, [], [], []),
        ([snap(1, 0, customer=None)], 7, CrmRules(), None, [], [], []),
    ],
    ids=[
        "backfill-order-silent",
        "orders-after-cutover-trigger-at-original-time",
        "owner-after-a-merge",
        "outside-retention-counted",
        "already-owned-untouched",
        "guest-order-untouched",
    ],
)
def test_join_orders(orphans, owner, rules, cutover, joined, events, suppressed):
    out = join_orders(orphans, owner, rules=rules, now=NOW, cutover=cutover)
    assert [(s.order_id, s.contact_customer_id) for s in out.snapshots] == joined
    assert [(e.order_id, e.occurred_at, e.triggers_automations) for e in out.events] == events
    assert all(e.event_id == f"order_placed:{SHOP}:{e.order_id}" for e in out.events)
    assert list(out.suppressed) == suppressed


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 90)), max_size=12))
def test_joining_keeps_every_order_and_places_each_once(specs):
    orphans = list({oid: snap(oid, days) for oid, days in specs}.values())
    out = join_orders(orphans, 7, rules=CrmRules(), now=NOW, cutover=T0 + timedelta(days=30))
    assert sorted(s.order_id for s in out.snapshots) == sorted(s.order_id for s in orphans)
    assert {s.contact_customer_id for s in out.snapshots} <= {7}
    assert sum(s.net_value for s in out.snapshots) == sum(s.net_value for s in orphans)
    # README "Late identifiers": one Order Placed per order (a list, so a second copy shows),
    # at the order's original time, joined late.
    placed = sorted((e.event_id, e.occurred_at, e.properties["joined_late"]) for e in out.events)
    assert placed == sorted(
        (f"order_placed:{SHOP}:{s.order_id}", s.created_at, True) for s in orphans
    )
    for e in out.events:
        assert e.triggers_automations is (e.occurred_at > T0 + timedelta(days=30))


def contact(cid: int, email: str) -> Contact:
    return Contact(
        shop_domain=SHOP,
        customer_id=cid,
        status=ContactStatus.ACTIVE,
        shopify_updated_at=T0,
        created_in_store_at=T0,
        updated_in_store_at=T0,
        email=email,
        email_normalized=email,
    )


@pytest.mark.parametrize(
    ("policy", "resolution", "status", "merged_into", "pair"),
    [
        (DuplicatePolicy.FLAG, Resolution("email", 1), ContactStatus.ACTIVE, None, (2, 1, "email")),
        (DuplicatePolicy.MERGE, Resolution("email", 1), ContactStatus.MERGED, 1, (2, 1, "email")),
        (DuplicatePolicy.MERGE, Resolution("phone", 1), ContactStatus.MERGED, 1, (2, 1, "phone")),
        (DuplicatePolicy.MERGE, NEW_PERSON, ContactStatus.ACTIVE, None, None),
    ],
    ids=["flag-keeps-both", "merge-by-email", "merge-by-phone", "no-match-no-pair"],
)
def test_update_that_makes_a_duplicate(policy, resolution, status, merged_into, pair):
    rules = CrmRules(duplicate_policy=policy)
    update = Customer(shop_domain=SHOP, id=2, updated_at=T0 + timedelta(days=1), email="a@x.com")
    out = apply_customer(
        contact(2, "b@x.com"), update, resolution, rules=rules, now=NOW, cutover=None
    )
    assert out.outcome == "updated"
    assert (out.contact.status, out.contact.merged_into) == (status, merged_into)
    got = out.duplicate
    assert (None if got is None else (got.customer_id, got.matched_customer_id, got.rule)) == pair


@pytest.mark.parametrize(
    ("email_before", "email_after", "pairs"),
    [
        ("b@x.com", "A@X.com ", [(2, 1, "email")]),
        ("a@x.com", "a@x.com", []),
        ("b@x.com", "c@x.com", []),
    ],
    ids=["email-change-to-taken-address", "pair-not-recorded-twice", "change-to-free-address"],
)
def test_fold_finds_duplicates_made_by_updates(email_before, email_after, pairs):
    known = {(SHOP, 1): contact(1, "a@x.com"), (SHOP, 2): contact(2, email_before)}
    owners: dict[tuple[str, str], set[int]] = {}
    for c in known.values():
        owners.setdefault((SHOP, c.email_normalized or ""), set()).add(c.customer_id)
    update = Customer(shop_domain=SHOP, id=2, updated_at=T0 + timedelta(days=1), email=email_after)
    batch = fold_customers(known, owners, {}, [update], rules=CrmRules(), now=NOW, cutovers={})
    found = [
        (o.duplicate.customer_id, o.duplicate.matched_customer_id, o.duplicate.rule)
        for _, o in batch.outcomes
        if o.duplicate
    ]
    assert found == pairs
