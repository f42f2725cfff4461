"""A kept bulk file serves the next identical query only while it is what rendering gives.

Each case compares the reused operation's bytes with a fresh rendering of the same query
by a manager that keeps nothing, and checks whether the bytes were reused or rendered.
"""

from __future__ import annotations

import gc
import os

import pytest
from shopify_emulator import bulk, fastexec, generate_store
from shopify_emulator.bulk import BulkManager, BulkOperation
from shopify_emulator.control import Control
from shopify_emulator.emulator import Emulator
from shopify_emulator.faults import FaultInjector
from test_fastexec import ALL_SCOPES, CUSTOMERS_BULK, ORDERS_BULK, context


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 40)  # several slices, so ungrouped seeds differ


class Run:
    """One manager on one store; operations get growing ids (so different shuffles)."""

    def __init__(self, store, **ctx):
        self.store = store
        self.manager = BulkManager(store, FaultInjector(), 0.0)
        self.ctx = ctx
        self.next_id = 40

    def bulk(self, query, *, grouped=True, version="2025-01", manager=None):
        """(bytes, line count, root count, whether the bytes were reused)."""
        self.next_id += 1
        manager = manager or self.manager
        ctx = context(self.store, bulk=manager, version=version, **self.ctx)
        op = BulkOperation(
            id=self.next_id, app_key="app", query=query, version=version, created_at=0.0,
            duration=0.0, grouped=grouped, outcome=None,
        )  # fmt: skip
        rendered = []
        original = manager._render
        manager._render = lambda *args: rendered.append(1) or original(*args)
        try:
            manager._execute(ctx, op)
            return op.output.read(), op.output.line_count, op.output.root_count, not rendered
        finally:
            manager._render = original
            op.output.delete()

    def fresh(self, query, **kwargs):
        """What a manager that has kept nothing writes for the same operation."""
        manager = BulkManager(self.store, FaultInjector(), 0.0)
        self.next_id -= 1  # the same operation id as the last reused one
        try:
            return self.bulk(query, manager=manager, **kwargs)
        finally:
            manager.close()


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize("query", [ORDERS_BULK, CUSTOMERS_BULK], ids=["orders", "customers"])
def test_the_same_query_on_an_unchanged_store_reuses_the_bytes(query):
    run = Run(generate_store(4, 120, 200, now=1_790_000_000))
    first = run.bulk(query)
    assert first[3] is False
    assert first[1] > first[2] > 40
    for grouped in (True, False):
        again = run.bulk(query, grouped=grouped)
        assert again[3] is True, "the kept file was not used"
        assert again[:3] == run.fresh(query, grouped=grouped)[:3]
    assert run.bulk(query, grouped=False)[0] != run.bulk(query, grouped=False)[0]  # reshuffled
    run.manager.close()


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize(
    "change",
    [
        lambda c, oid: c.update_order(oid, tags=["late"]),
        lambda c, oid: c.refund_order(oid, amount="1.00", touch_order=False),
        lambda c, oid: c.cancel_order(oid),
        lambda c, oid: c.create_customer(email="new@example.com"),
    ],
    ids=["update", "silent-refund", "cancel", "new-customer"],
)
def test_any_change_renders_anew(change):
    store = generate_store(6, 30, 150, now=1_790_000_000)
    run = Run(store)
    before = run.bulk(ORDERS_BULK)
    # A paid guest order: a refund that does not touch it changes no customer either.
    line = next(
        line
        for line in before[0].splitlines()
        if b'"customer":null' in line and b'"displayFinancialStatus":"PAID"' in line
    )
    oid = int(line.split(b'"gid://shopify/Order/')[1].split(b'"')[0])
    change(Control(Emulator(store)), oid)
    after = run.bulk(ORDERS_BULK)
    assert after[3] is False
    assert after[:3] == run.fresh(ORDERS_BULK)[:3]
    assert run.bulk(ORDERS_BULK)[3] is True  # and that rendering is kept in turn
    run.manager.close()


def test_what_depends_on_time_or_other_keys_is_not_reused():
    store = generate_store(8, 20, 80, now=1_790_000_000)
    window = Run(store, scopes=ALL_SCOPES - {"read_all_orders"})  # the 60-day window moves
    assert [window.bulk(ORDERS_BULK)[3] for _ in range(2)] == [False, False]
    run = Run(store)
    assert run.bulk(ORDERS_BULK)[3] is False
    assert run.bulk(ORDERS_BULK, version="2026-10")[3] is False  # another schema
    assert run.bulk(ORDERS_BULK.replace("sku", "title"))[3] is False
    denied = Run(store, protected_denied=True)
    denied.manager = run.manager
    assert denied.bulk(ORDERS_BULK)[3] is False
    control = Control(Emulator(store))
    control.set_index_lag(60.0)
    control.update_order(store.lazy_base_id() + 3, tags=["lagging"])
    lagging = [run.bulk(ORDERS_BULK)[3] for _ in range(2)]
    assert lagging == [False, False]  # filters still see the old order: not kept
    run.manager.close()
    window.manager.close()


def test_a_failed_rendering_is_not_kept(monkeypatch):
    run = Run(generate_store(9, 20, 60, now=1_790_000_000), protected_denied=True)
    monkeypatch.setattr(fastexec, "ENABLED", True)
    first = run.bulk(ORDERS_BULK)  # protected fields denied: ACCESS_DENIED, no file kept
    assert first[3] is False
    assert run.bulk(ORDERS_BULK)[3] is False


def test_closing_deletes_the_kept_files():
    run = Run(generate_store(2, 10, 30, now=1_790_000_000))
    run.bulk(ORDERS_BULK)
    kept = [entry.path for _version, entry in run.manager.reuse._kept.values()]
    assert kept
    assert all(os.path.exists(path) for path in kept)
    run.manager.close()
    assert not any(os.path.exists(path) for path in kept)


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "ungrouped"])
def test_a_kept_file_gone_missing_is_rendered_anew(grouped):
    run = Run(generate_store(2, 10, 30, now=1_790_000_000))
    run.bulk(ORDERS_BULK)
    for _version, entry in run.manager.reuse._kept.values():
        os.unlink(entry.path)  # as when a newer rendering replaces it meanwhile
    again = run.bulk(ORDERS_BULK, grouped=grouped)
    assert again[3] is False
    assert again[:3] == run.fresh(ORDERS_BULK, grouped=grouped)[:3]
    run.manager.close()


def test_a_manager_nobody_closes_deletes_its_kept_files_when_it_goes():
    run = Run(generate_store(2, 10, 30, now=1_790_000_000))
    run.bulk(ORDERS_BULK)
    kept = [entry.path for _version, entry in run.manager.reuse._kept.values()]
    assert kept
    del run
    gc.collect()
    assert not any(os.path.exists(path) for path in kept)
