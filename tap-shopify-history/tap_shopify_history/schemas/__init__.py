"""JSON Schemas of the tap's streams: the record contract (docs/record-contract.md)."""

from __future__ import annotations

from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent


def schema_path(stream_name: str) -> Path:
    """The JSON Schema file of a stream.

    Args:
        stream_name: ``customers``, ``orders``, ``customer_roster`` or ``sync_manifest``.

    Returns:
        The file path.
    """
    return SCHEMAS_DIR / f"{stream_name}.json"
