"""Orders and customers created through the control API get ids of their own."""

from __future__ import annotations

from shopify_emulator import EmulatorServer, generate_store


def test_created_order_and_customer_never_reuse_generated_ids() -> None:
    server = EmulatorServer(generate_store(seed=21, customers=10, orders=30)).start()
    try:
        before = server.control.snapshot()
        customer_id = server.control.create_customer(email="new@example.com")
        order_id = server.control.create_order(customer_id=customer_id)
        after = server.control.snapshot()
    finally:
        server.stop()
    assert order_id not in {o["id"] for o in before["orders"]}
    assert customer_id not in {c["id"] for c in before["customers"]}
    assert len(after["orders"]) == len(before["orders"]) + 1
    assert {o["id"] for o in before["orders"]} <= {o["id"] for o in after["orders"]}
