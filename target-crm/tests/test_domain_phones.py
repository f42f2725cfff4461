"""Phones: E.164 with phonenumbers; national numbers in the address country, then the shop's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_crm.domain.identity import customer_phone, identifier_value, normalize_phone
from target_crm.domain.models import CrmRules, Customer, Identifier

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 6982 0000", "IT", "+390669820000"),
        ("+44 (0)7700 900123", None, "+447700900123"),
        ("+44 (0)7700 900123", "FR", "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("0033 6 12 34 56 78", None, "+33612345678"),
        ("06 12 34 56 78", "fr", "+33612345678"),
        ("(555) 000-0001", "US", "+15550000001"),
        ("06 6982 0000", None, None),
        ("12-34", "FR", None),
        ("call me", "FR", None),
        ("   ", "FR", None),
        (None, "GB", None),
    ],
    ids=[
        "italian-landline-national",
        "uk-mobile-with-trunk-zero-in-brackets",
        "international-ignores-region",
        "uk-mobile-national",
        "french-international-spaces",
        "double-zero-prefix",
        "region-lower-case",
        "us-national-punctuation",
        "national-without-region-unparseable",
        "too-short",
        "not-a-number",
        "blank",
        "none",
    ],
)
def test_normalize_phone(raw, region, expected):
    assert normalize_phone(raw, region) == expected


def person(phone: str, country_code: str | None) -> Customer:
    return Customer(
        shop_domain="s.myshopify.com", id=1, updated_at=T0, phone=phone, country_code=country_code
    )


@pytest.mark.parametrize(
    ("phone", "country_code", "rules", "expected"),
    [
        ("06 6982 0000", "IT", CrmRules(), "+390669820000"),
        ("06 6982 0000", None, CrmRules(default_country="IT"), "+390669820000"),
        ("06 12 34 56 78", "FR", CrmRules(default_country="IT"), "+33612345678"),
        ("07700 900123", None, CrmRules(default_calling_code="44"), "+447700900123"),
        ("07700 900123", None, CrmRules(default_calling_code="999"), None),
        ("07700 900123", None, CrmRules(), None),
    ],
    ids=[
        "address-country",
        "shop-default-country",
        "address-beats-shop-default",
        "legacy-calling-code",
        "unknown-calling-code",
        "no-country-at-all",
    ],
)
def test_customer_phone_region_order(phone, country_code, rules, expected):
    assert customer_phone(person(phone, country_code), rules) == expected


def test_unparseable_phone_is_no_identifier():
    rules = CrmRules(identifier=Identifier.PHONE)
    assert identifier_value(person("call me", "FR"), rules) is None
    assert identifier_value(person("+39 06 6982 0000", None), rules) == "+390669820000"


@given(st.text(max_size=30), st.sampled_from([None, "IT", "GB", "US", "FR"]))
def test_normalised_phone_is_e164_or_none_and_idempotent(raw, region):
    out = normalize_phone(raw, region)
    if out is not None:
        assert out.startswith("+")
        assert out[1:].isdigit()
        assert normalize_phone(out, None) == out
