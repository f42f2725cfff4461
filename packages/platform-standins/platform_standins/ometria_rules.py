"""Ometria Push API rules the stand-in applies: request shape, record size, validation, upsert.

Pure functions over parsed JSON; no I/O. Sources are in the package README.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RECORD_TYPES = ("contact", "order", "product", "custom_event")
OPTIN_VALUES = ("EXPLICITLY_OPTEDIN", "EXPLICITLY_OPTEDOUT", "NOT_SPECIFIED")
TOO_LARGE = "Payload invalid: Record is too large."
NOT_VALID = "not a valid value"
MONEY_FIELDS = ("subtotal", "discount", "shipping", "tax", "grand_total", "total_refunded")
LINE_MONEY_FIELDS = ("unit_price", "subtotal", "tax", "discount", "total", "refunded")
LINE_COUNT_FIELDS = ("quantity", "quantity_refunded")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class PushRefused(Exception):  # noqa: N818 - the whole call is refused, not an internal error
    """A push call answered 400 before any record is queued."""

    message: str

    def body(self) -> dict[str, Any]:
        """The answer's JSON body."""
        return {"status": "ERROR", "message": self.message}


@dataclass(frozen=True, slots=True)
class RecordError:
    """One entry of ``/push/_errors``: Ometria's documented two fields."""

    error_message: str
    error_path: str


def parse_push(body: bytes, max_records: int) -> list[dict[str, Any]]:
    """The records of a push call, or ``PushRefused`` for a call Ometria cannot take.

    Example:
        >>> parse_push(b'[{"@type": "contact", "id": "1"}]', 100)
        [{'@type': 'contact', 'id': '1'}]
    """
    try:
        records = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PushRefused("Payload invalid: body is not UTF-8 JSON") from error
    if not isinstance(records, list):
        raise PushRefused("Payload invalid: send a JSON array of records, even for one record")
    if not records:
        raise PushRefused("Payload invalid: the array of records is empty")
    if len(records) > max_records:
        raise PushRefused(
            f"Payload invalid: {len(records)} records in one call (at most {max_records})"
        )
    if not all(isinstance(record, dict) for record in records):
        raise PushRefused("Payload invalid: every record must be a JSON object")
    types = sorted({str(record.get("@type")) for record in records})
    if len(types) > 1:
        raise PushRefused(f"Payload invalid: one object type per call, got {', '.join(types)}")
    return records


def record_bytes(record: dict[str, Any]) -> int:
    """The record's size as compact UTF-8 JSON (what the 60 KB limit is measured on here)."""
    return len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def record_key(record: dict[str, Any]) -> tuple[str, str | None, str]:
    """The upsert key: type, collection (contacts; one per source) and id."""
    collection = record.get("@collection")
    return (
        str(record.get("@type")),
        None if collection is None else str(collection),
        str(record.get("id")),
    )


def merge(stored: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any]:
    """Ometria's upsert: a new id is added, else the supplied fields replace the stored ones."""
    return {**(stored or {}), **record}


def validate(record: dict[str, Any]) -> list[RecordError]:
    """The errors Ometria's asynchronous validation reports for ``record`` (empty = valid)."""
    errors = []
    if record.get("@type") not in RECORD_TYPES:
        errors.append("root > @type")
    if not _text(record.get("id")):
        errors.append("root > id")
    if record.get("@type") == "contact":
        errors += _contact_paths(record)
    elif record.get("@type") == "order":
        errors += _order_paths(record)
    return [RecordError(NOT_VALID, path) for path in errors]


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None  # Ometria needs an offset to place the order in time


def _contact_paths(record: dict[str, Any]) -> list[str]:
    paths = []
    if "email" in record and not (
        isinstance(record["email"], str) and _EMAIL.match(record["email"])
    ):
        paths.append("root > email")
    if "marketing_optin" in record and record["marketing_optin"] not in OPTIN_VALUES:
        paths.append("root > marketing_optin")
    for name in ("@collection", "customer_id", "firstname", "lastname", "phone_number"):
        if name in record and not isinstance(record[name], str):
            paths.append(f"root > {name}")
    if "timestamp_subscribed" in record and not _timestamp(record["timestamp_subscribed"]):
        paths.append("root > timestamp_subscribed")
    return paths


def _order_paths(record: dict[str, Any]) -> list[str]:
    paths = []
    if "timestamp" in record and not _timestamp(record["timestamp"]):
        paths.append("root > timestamp")
    if "is_valid" in record and not isinstance(record["is_valid"], bool):
        paths.append("root > is_valid")
    if "status" in record and not _text(record["status"]):
        paths.append("root > status")
    if "currency" in record and not (
        isinstance(record["currency"], str) and _CURRENCY.match(record["currency"])
    ):
        paths.append("root > currency")
    paths += [f"root > {n}" for n in MONEY_FIELDS if n in record and not _number(record[n])]
    customer = record.get("customer")
    if "customer" in record and not isinstance(customer, dict):
        paths.append("root > customer")
    elif isinstance(customer, dict) and "email" in customer:
        email = customer["email"]
        if not (isinstance(email, str) and _EMAIL.match(email)):
            paths.append("root > customer > email")
    if "lineitems" in record:
        paths += _line_paths(record["lineitems"])
    return paths


def _line_paths(lines: Any) -> list[str]:
    if not isinstance(lines, list):
        return ["root > lineitems"]
    paths = []
    for index, line in enumerate(lines):
        where = f"root > lineitems > {index}"
        if not isinstance(line, dict):
            paths.append(where)
            continue
        paths += [f"{where} > {n}" for n in LINE_MONEY_FIELDS if n in line and not _number(line[n])]
        paths += [
            f"{where} > {n}"
            for n in LINE_COUNT_FIELDS
            if n in line and (not isinstance(line[n], int) or isinstance(line[n], bool))
        ]
        if "product" in line and not isinstance(line["product"], dict):
            paths.append(f"{where} > product")
        if "variant_id" in line and not isinstance(line["variant_id"], str):
            paths.append(f"{where} > variant_id")  # Ometria ids are strings
    return paths
