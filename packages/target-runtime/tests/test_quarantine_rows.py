"""Quarantine and dead-letter rows: what a person reads, storable on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from target_runtime.fields import RecordRejected
from target_runtime.quarantine import dead_letter_row, quarantine_row, storable_text
from target_runtime.singer_input import DeadLetter


def test_a_quarantine_row_names_the_record_field_and_reason_and_keeps_the_record() -> None:
    record = {"shop_domain": "s.myshopify.com", "id": 7, "email": "a\x00b"}
    rejected = RecordRejected("customers", "s.myshopify.com/7", "email", "contains a NUL character")
    row = quarantine_row(rejected, record)
    assert row == {
        "stream": "customers",
        "record_key": "s.myshopify.com/7",
        "field": "email",
        "reason": "contains a NUL character",
        "payload": json.dumps(record, sort_keys=True),
    }
    assert "\x00" not in row["payload"]
    assert json.loads(row["payload"]) == record


@pytest.mark.parametrize(
    ("key", "chars", "stored"),
    [
        ("k" * 255, 255, "k" * 255),
        ("k" * 256, 255, "k" * 254 + "…"),
        ("a\x00b", 255, "a\\0b"),
        ("k" * 401, 400, "k" * 399 + "…"),
    ],
    ids=["at-bound", "over-bound", "nul", "wider-column"],
)
def test_keys_and_fields_fit_their_columns(key: str, chars: int, stored: str) -> None:
    rejected = RecordRejected("orders", key, key, "bad")
    row = quarantine_row(rejected, {}, key_chars=chars, field_chars=chars)
    assert row["record_key"] == stored
    assert row["field"] == stored


def test_a_dead_letter_row_keeps_the_line_without_nul_and_bounds_the_reason() -> None:
    letter = DeadLetter(
        line_number=12, raw='{"type": "RECORD"\x00', reason="r" * 3000, truncated=False
    )
    row = dead_letter_row(letter, reason_chars=2000)
    assert row == {
        "line_number": 12,
        "raw": '{"type": "RECORD"\\u0000',
        "truncated": False,
        "reason": "r" * 2000,
    }
    assert dead_letter_row(letter)["reason"] == "r" * 3000
    assert storable_text("no nul") == "no nul"
