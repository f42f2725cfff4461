"""``flattening_enabled``: flattened records agree with their flattened SCHEMA messages.

Issue: with flattening on, a null nested object kept its bare key (``default_address:
null``), which the flattened schema does not have, so ``additionalProperties: false``
rejected the record (target-csv, both project targets, and 3 of singer-sdk's own tap
tests); the manifest's ``required`` still named the flattened ``excluded``.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from shopify_emulator import StoreBuilder, generate_store
from singer_sdk.helpers._flattening import FlatteningOptions, flatten_record, flatten_schema
from tap_runner import run_tap
from tap_shopify_history.flattening import agreeing_schema, null_objects_expanded

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "address"],
    "properties": {
        "id": {"type": "integer"},
        "address": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "city": {"type": "string"},
                "geo": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}},
                },
            },
        },
    },
}


@pytest.mark.parametrize(
    ("record", "depth", "expected"),
    [
        ({"id": 1, "address": None}, 1, {"id": 1, "address__city": None, "address__geo": None}),
        (
            {"id": 1, "address": None},
            2,
            {"id": 1, "address__city": None, "address__geo__lat": None},
        ),
        (
            {"id": 1, "address": {"city": "Lyon", "geo": None}},
            2,
            {"id": 1, "address__city": "Lyon", "address__geo__lat": None},
        ),
        (
            {"id": 1, "address": {"city": "Lyon", "geo": {"lat": 45.7}}},
            1,
            {"id": 1, "address__city": "Lyon", "address__geo": '{"lat":45.7}'},
        ),
    ],
    ids=["null-object-depth-1", "null-object-depth-2", "null-inner-object", "object-kept-as-json"],
)
def test_a_flattened_record_has_the_columns_of_the_flattened_schema(
    record: dict[str, Any], depth: int, expected: dict[str, Any]
) -> None:
    options = FlatteningOptions(enabled=True, max_level=depth)
    schema = agreeing_schema(flatten_schema(SCHEMA, depth), SCHEMA, options)
    flat = flatten_record(null_objects_expanded(record, SCHEMA, depth), schema, depth)
    assert flat == expected
    jsonschema.validate(flat, schema)
    assert schema["required"] == ["id"]


def _flattened_output(server, depth: int):
    config = {
        "store_url": server.base_url,
        "access_token": server.token,
        "flattening_enabled": True,
        "flattening_max_depth": depth,
    }
    return run_tap(config)


@pytest.mark.parametrize("depth", [1, 2, 10], ids=["depth-1", "depth-2", "depth-10"])
def test_every_flattened_record_validates_against_its_schema_message(
    emulator_factory, depth: int
) -> None:
    # As target-csv does: each record checked against the stream's latest SCHEMA.
    store = generate_store(seed=5, customers=15, orders=40)
    output = _flattened_output(emulator_factory(store=store, bulk_seconds=0.2), depth)
    schemas: dict[str, dict[str, Any]] = {}
    checked = dict.fromkeys(("customers", "orders", "customer_roster", "sync_manifest"), 0)
    for message in output.messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            validator = jsonschema.Draft7Validator(schemas[message["stream"]])
            errors = [e.message for e in validator.iter_errors(message["record"])]
            assert errors == [], (message["stream"], message["record"].get("id"))
            checked[message["stream"]] += 1
    assert all(checked.values()), checked


def test_a_null_address_becomes_null_columns(emulator_factory) -> None:
    builder = StoreBuilder(seed=3).customer(email="a@example.com", address=None).order()
    output = _flattened_output(emulator_factory(store=builder.build(), bulk_seconds=0.2), 1)
    (customer,) = output.records("customers")
    assert "default_address" not in customer
    columns = {key: value for key, value in customer.items() if key.startswith("default_address__")}
    assert columns
    assert set(columns.values()) == {None}
