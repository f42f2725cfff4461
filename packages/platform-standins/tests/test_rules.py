"""The pure rules under both stand-ins, as tables."""

from __future__ import annotations

import pytest
from platform_standins.moengage_rules import action_verdict, event_time
from platform_standins.ometria_rules import merge, validate

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1_590_404_615, 1_590_404_615.0),
        ("1590404615", 1_590_404_615.0),
        ("2020-05-31T16:33:35Z", 1_590_942_815.0),
        ("2020-05-31T16:33:35", 1_590_942_815.0),
        ("2020-05-31T18:33:35+02:00", 1_590_942_815.0),
    ],
    ids=["absent", "epoch", "epoch-string", "iso-z", "iso-naive-is-utc", "iso-offset"],
)
def test_event_time(value, expected):
    assert event_time(value) == expected


@pytest.mark.parametrize("value", [True, "soon", {"t": 1}], ids=["bool", "word", "object"])
def test_unreadable_event_time(value):
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the value, any is fine
        event_time(value)


@pytest.mark.parametrize(
    ("current_time", "tolerance", "dropped"),
    [
        (NOW, 0, False),
        (NOW + 1, 0, True),
        (NOW + 1, 5, False),
        (NOW * 1000, 0, True),
    ],
    ids=["now", "one-second-ahead", "within-tolerance", "milliseconds"],
)
def test_future_dated(current_time, tolerance, dropped):
    verdict = action_verdict({"action": "a", "current_time": current_time}, NOW, tolerance)
    assert (verdict is not None) is dropped


@pytest.mark.parametrize(
    ("record", "paths"),
    [
        ({"@type": "contact", "id": "1", "email": "a@b.co"}, []),
        ({"@type": "contact", "id": "1", "email": "a@b"}, ["root > email"]),
        ({"@type": "contact", "id": 1}, ["root > id"]),
        ({"@type": "contact", "id": "1", "lastname": 7}, ["root > lastname"]),
        ({"@type": "contact", "id": "1", "marketing_optin": "NOT_SPECIFIED"}, []),
        ({"@type": "contacts", "id": "1"}, ["root > @type"]),
        ({"@type": "order", "id": "o", "timestamp": "2026-01-01T00:00:00+00:00"}, []),
        ({"@type": "order", "id": "o", "timestamp": "2026-01-01T00:00:00"}, ["root > timestamp"]),
        ({"@type": "order", "id": "o", "is_valid": "false"}, ["root > is_valid"]),
        ({"@type": "order", "id": "o", "grand_total": "9.99"}, ["root > grand_total"]),
        ({"@type": "order", "id": "o", "currency": "usd"}, ["root > currency"]),
        (
            {"@type": "order", "id": "o", "customer": {"id": "1", "email": "x"}},
            ["root > customer > email"],
        ),
        (
            {"@type": "order", "id": "o", "lineitems": [{"quantity": 1.5, "unit_price": 2}]},
            ["root > lineitems > 0 > quantity"],
        ),
        ({"@type": "order", "id": "o", "status": "cancelled", "is_valid": False}, []),
    ],
    ids=[
        "contact-ok",
        "bad-email",
        "numeric-id",
        "lastname-not-text",
        "optin-ok",
        "unknown-type",
        "order-ok",
        "timestamp-without-offset",
        "is-valid-string",
        "money-string",
        "currency-lowercase",
        "customer-email",
        "fractional-quantity",
        "partial-cancel-ok",
    ],
)
def test_ometria_validation(record, paths):
    assert [error.error_path for error in validate(record)] == paths


def test_merge_replaces_supplied_fields_only():
    stored = {"@type": "order", "id": "o", "status": "complete", "grand_total": 10}
    update = {"@type": "order", "id": "o", "status": "refunded", "is_valid": False}
    assert merge(stored, update) == {
        "@type": "order",
        "id": "o",
        "status": "refunded",
        "grand_total": 10,
        "is_valid": False,
    }
