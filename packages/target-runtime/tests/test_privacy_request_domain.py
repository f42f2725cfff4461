"""The shared privacy-request domain: kinds, outcomes, the placeholder, the customer rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from target_runtime.privacy import (
    CUSTOMER_KINDS,
    REDACTED,
    Kind,
    Outcome,
    PrivacyRequest,
    names_no_customer,
    placeholder_email,
)


def test_kinds_and_outcomes_are_the_stored_strings() -> None:
    assert {k.value for k in Kind} == {
        "customer_delete",
        "customer_redact",
        "shop_redact",
        "data_request",
    }
    assert set(Kind) - {Kind.SHOP_REDACT} == CUSTOMER_KINDS
    assert [o.value for o in Outcome] == ["applied", "no_match", "already_applied", "exported"]
    # Stored and counted as plain strings: equal, and hashed alike.
    assert {Kind.DATA_REQUEST: 1}["data_request"] == 1
    assert f"{Outcome.NO_MATCH}" == "no_match"
    assert REDACTED == "[redacted]"


def test_placeholder_derives_from_ids_only() -> None:
    assert placeholder_email(42, "r-1") == "redacted-42@redacted.invalid"
    assert placeholder_email(0, "r-1") == "redacted-0@redacted.invalid"
    assert placeholder_email(None, "r-1") == "redacted-r-1@redacted.invalid"


@pytest.mark.parametrize(
    ("kind", "customer_id", "email", "phone", "expected"),
    [
        (Kind.CUSTOMER_REDACT, None, None, None, True),
        ("customer_delete", None, "", "", True),
        (Kind.DATA_REQUEST, 0, None, None, False),
        (Kind.CUSTOMER_REDACT, None, "a@b.io", None, False),
        (Kind.CUSTOMER_DELETE, None, None, "+1 555", False),
        (Kind.SHOP_REDACT, None, None, None, False),
    ],
)
def test_a_customer_kind_must_name_its_customer(
    kind: Kind | str, customer_id: int | None, email: str | None, phone: str | None, expected: bool
) -> None:
    assert names_no_customer(kind, customer_id, email, phone) is expected


def test_request_is_frozen() -> None:
    request = PrivacyRequest(
        request_id="r-1",
        kind=Kind.SHOP_REDACT,
        customer_id=None,
        email=None,
        phone=None,
        order_ids=(),
        data_request_id=None,
        origin="webhook",
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
        queue_position=0,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.kind = Kind.DATA_REQUEST  # type: ignore[misc]
