"""The run's log: one INFO line per committed batch and one summary at the end."""

from __future__ import annotations

import logging

from loyalty_records import Messages, at, customer, manifest_for, order, run_target


def test_one_line_per_committed_batch_and_a_summary(sqlite_url, caplog):
    messages = Messages().records("customers", customer(1), customer(2), customer(3))
    messages.state({"bookmarks": {"customers": {"replication_key_value": at(1, 1)}}})
    bad = order(103, 1, "5.00")
    bad["subtotal_price_set"]["shop_money"]["amount"] = "five"
    messages.records("orders", order(101, 1, "10.00"), order(102, None, "20.00"), bad)
    with caplog.at_level(logging.INFO):
        run_target({"database_url": sqlite_url}, manifest_for(messages))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    batches = [line for line in lines if line.startswith("batch committed:")]
    manifest_rows = 2  # one per stream received
    assert batches[0].startswith("batch committed: customers 3 records, 3 applied, 0 quarantined")
    # The guest order is received but skipped (neither applied nor quarantined).
    assert batches[1].startswith("batch committed: orders 3 records, 1 applied, 1 quarantined")
    assert batches[2].startswith(
        f"batch committed: sync_manifest {manifest_rows} records, {manifest_rows} applied"
    )
    assert len(batches) == 3
    summaries = [line for line in lines if line.startswith("run ")]
    assert len(summaries) == 1
    assert summaries[0].startswith("run succeeded in ")
    assert (
        f"8 records (customers 3, orders 3, sync_manifest {manifest_rows}) in 3 batches, "
        "6 applied, 1 quarantined"
    ) in summaries[0]
