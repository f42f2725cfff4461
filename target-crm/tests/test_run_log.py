"""One INFO line per committed batch and one end-of-run summary (target_runtime.run_log)."""

from __future__ import annotations

import logging

from crm_records import Feed, customer, order, run_target


def test_one_line_per_committed_batch_and_a_summary(sqlite_url, caplog):
    caplog.set_level(logging.INFO, logger="target-crm")
    feed = Feed().customers(customer(1), customer(2)).orders(order(5, 1)).manifest()
    run_target({"database_url": sqlite_url}, feed)
    lines = [r.getMessage() for r in caplog.records if r.name == "target-crm"]
    batches = [line for line in lines if line.startswith("batch committed: ")]
    assert [b.split(";")[0] for b in batches] == [
        "batch committed: customers 2 records, 2 applied, 0 quarantined",
        "batch committed: orders 1 records, 1 applied, 0 quarantined",
        "batch committed: sync_manifest 3 records, 3 applied, 0 quarantined",
    ]
    summaries = [line for line in lines if line.startswith("run ")]
    assert len(summaries) == 1
    assert summaries[0].startswith("run succeeded in ")
    assert "6 records (customers 2, orders 1, sync_manifest 3) in 3 batches" in summaries[0]
