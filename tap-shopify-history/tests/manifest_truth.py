"""Recompute a run's ``sync_manifest`` from the emulator's store, under the documented rules.

Written from docs/record-contract.md and the README's rules, not from the tap's code: a
part's count is every record of the store in its ``updated_at`` window; a test order
(without ``include_test_orders``) is excluded ``test_order``; an order placed before the
range start ``outside_sync_range``; a record in the window this run did not emit
``already_emitted``.
"""

from __future__ import annotations

from typing import Any

from tap_truth import validator


def manifest(output: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """The manifest rows of a run by (stream, part); checks they are valid and last."""
    rows = output.records("sync_manifest")
    for row in rows:
        errors = list(validator("sync_manifest").iter_errors(row))
        assert not errors, errors[0].message
    records = [m for m in output.messages if m["type"] == "RECORD"]
    assert [m["stream"] for m in records[len(records) - len(rows) :]] == ["sync_manifest"] * len(
        rows
    )
    assert len({r["run_id"] for r in rows}) <= 1
    return {(r["stream"], r["part"]): r for r in rows}


def in_window(record: dict[str, Any], row: dict[str, Any]) -> bool:
    start, end = row["window_start"], row["window_end"]
    return (start is None or record["updated_at"] >= start) and (
        end is None or record["updated_at"] < end
    )


def expected_window(
    snapshot: dict[str, Any],
    stream: str,
    row: dict[str, Any],
    *,
    previous: set[tuple[int, str]] = frozenset(),  # type: ignore[assignment]
    include_test_orders: bool = False,
    range_start: str | None = None,
) -> tuple[dict[str, Any], set[int]]:
    """The numbers of a ``window`` row, and the ids it must have emitted.

    ``previous``: the (id, updated_at) versions earlier runs emitted.
    """
    records = [r for r in snapshot[stream] if in_window(r, row)]
    excluded: dict[str, int] = {}
    emit: set[int] = set()
    for record in records:
        if stream == "orders" and record["test"] and not include_test_orders:
            reason = "test_order"
        elif stream == "orders" and range_start and record["created_at"] < range_start:
            reason = "outside_sync_range"
        elif (record["id"], record["updated_at"]) in previous:
            reason = "already_emitted"
        else:
            emit.add(record["id"])
            continue
        excluded[reason] = excluded.get(reason, 0) + 1
    want = {
        "shopify_count_before": len(records),
        "shopify_count_after": len(records),
        "emitted": len(emit),
        "excluded": dict(sorted(excluded.items())),
    }
    return want, emit


def numbers(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("shopify_count_before", "shopify_count_after", "emitted", "excluded")
    return {k: row[k] for k in keys}


def versions(*outputs: Any) -> set[tuple[int, str]]:
    """The (id, updated_at) versions of customers and orders some runs emitted."""
    return {
        (r["id"], r["updated_at"])
        for output in outputs
        for stream in ("customers", "orders")
        for r in output.records(stream)
    }


def assert_manifest_matches_store(
    output: Any,
    snapshot: dict[str, Any],
    *,
    previous: set[tuple[int, str]] = frozenset(),  # type: ignore[assignment]
    include_test_orders: bool = False,
    range_start: str | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every window row equals the recomputation and names exactly what was emitted."""
    rows = manifest(output)
    for stream in ("customers", "orders"):
        row = rows[(stream, "window")]
        want, emit = expected_window(
            snapshot,
            stream,
            row,
            previous=previous,
            include_test_orders=include_test_orders,
            range_start=range_start,
        )
        assert numbers(row) == want, stream
        if (stream, "refund_sweep") not in rows:
            assert sorted(output.ids(stream)) == sorted(emit), stream
    roster = rows[("customer_roster", "window")]
    live = len(snapshot["customers"])
    assert numbers(roster) == {
        "shopify_count_before": live,
        "shopify_count_after": live,
        "emitted": live,
        "excluded": {},
    }
    assert (roster["selection"], roster["window_start"], roster["window_end"]) == ("", None, None)
    return rows
