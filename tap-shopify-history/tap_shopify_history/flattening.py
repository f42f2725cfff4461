"""singer-sdk's flattening (``flattening_enabled``), made to agree with its own schema.

singer-sdk flattens a nested object into ``parent__child`` columns, but a record whose
object is null keeps the bare ``parent: null`` key, which the flattened schema does not
have (``additionalProperties: false`` rejects it); the columns of a nullable object keep
their non-nullable types; and ``required`` still names the flattened object. Here, for
every stream map that flattens:

- a null object is read as an object of nulls before flattening, so the record has the
  very columns of the schema, all null;
- every column under a nullable object, or from a property its object may leave out,
  accepts null (a missing column is a null one);
- ``required`` names only columns the flattened schema has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from singer_sdk.mapper import StreamMap

from tap_shopify_history.sdk_seam import flatten_key


def _types(node: dict[str, Any]) -> list[str]:
    declared = node.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _flattens(node: dict[str, Any], level: int, max_level: int) -> bool:
    # The condition under which singer-sdk turns an object into columns.
    return "object" in _types(node) and "properties" in node and level < max_level


def null_objects_expanded(
    record: dict[str, Any], schema: dict[str, Any], max_level: int, level: int = 0
) -> dict[str, Any]:
    """The record with each null object that will be flattened as an object of nulls.

    Args:
        record: A record (or nested object) before flattening.
        schema: Its JSON Schema (unflattened).
        max_level: ``flattening_max_depth``.
        level: The depth of ``record``.

    Returns:
        A new record; objects below the flattening depth are left as they are.
    """
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in record.items():
        node = properties.get(key) or {}
        nested = value
        if _flattens(node, level, max_level):
            nested = dict.fromkeys(node["properties"]) if value is None else value
            if isinstance(nested, dict):
                nested = null_objects_expanded(nested, node, max_level, level + 1)
        out[key] = nested
    return out


def _nullable_columns(
    node: dict[str, Any],
    parents: list[str],
    level: int,
    options: Any,
    *,
    under_nullable: bool,
) -> Iterator[str]:
    required = set(node.get("required") or ())
    for name, child in (node.get("properties") or {}).items():
        # Inside an object, a property it may leave out is a column that may be null.
        optional = under_nullable or (level > 0 and name not in required)
        if _flattens(child, level, options.max_level):
            nullable = optional or "null" in _types(child)
            yield from _nullable_columns(
                child, [*parents, name], level + 1, options, under_nullable=nullable
            )
        elif optional:
            yield flatten_key(
                name, parents, options.separator, max_key_length=options.max_key_length
            )


def agreeing_schema(flat: dict[str, Any], raw: dict[str, Any], options: Any) -> dict[str, Any]:
    """The flattened schema with null allowed under nullable objects and ``required`` fixed.

    Args:
        flat: singer-sdk's flattened schema.
        raw: The schema before flattening.
        options: The map's ``FlatteningOptions``.

    Returns:
        A new schema.
    """
    schema = {**flat, "properties": dict(flat.get("properties") or {})}
    for column in _nullable_columns(raw, [], 0, options, under_nullable=False):
        column_schema = schema["properties"].get(column)
        if column_schema is not None and "null" not in _types(column_schema):
            schema["properties"][column] = {
                **column_schema,
                "type": [*_types(column_schema), "null"],
            }
    if "required" in schema:
        schema["required"] = [key for key in schema["required"] if key in schema["properties"]]
    return schema


def make_flattening_agree(stream_map: StreamMap) -> None:
    """Fix one stream map in place: its schema, and null objects in its records.

    Args:
        stream_map: A map of the stream (does nothing unless it flattens).
    """
    options = stream_map.flattening_options
    if options is None or not stream_map.flattening_enabled:
        return
    raw = stream_map.raw_schema
    stream_map.transformed_schema = agreeing_schema(stream_map.transformed_schema, raw, options)
    flatten = stream_map.flatten_record

    def agreeing_flatten(record: dict[str, Any]) -> dict[str, Any]:
        return flatten(null_objects_expanded(record, raw, options.max_level))

    stream_map.flatten_record = agreeing_flatten  # type: ignore[method-assign]
