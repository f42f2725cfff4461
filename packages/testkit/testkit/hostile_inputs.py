"""Broken and hostile Singer input, as cases the target contract mixes among good records.

Each :class:`HostileCase` is one bad line (the reader dead-letters it), one bad record (the
target quarantines it, naming stream, key and field) or one stale version (the target keeps
the newer one). :func:`hostile_input` inserts cases among the good records of a store's sync,
with good records before and after each, and returns the lines and where each case landed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testkit.singer_messages import SingerStore, manifest_messages, money_bag

Line = bytes
Build = Callable[[SingerStore], dict[str, Any]]


@dataclass(frozen=True)
class HostileCase:
    """One hostile item and what the target must make of it.

    Attributes:
        id: The pytest id.
        group: Cases of one group share one target run.
        stream: The stream among whose records the item is inserted.
        line: A raw line the reader must dead-letter, with ``reason`` in its reason.
        build: Builds a RECORD message the target must quarantine under
            (``stream``, ``key``, ``field``), or, when ``stale``, must leave without effect.
    """

    id: str
    group: str
    stream: str
    line: Line | None = None
    reason: str = ""
    build: Build | None = None
    key: int | None = None
    field: str = ""
    stale: bool = False

    @property
    def kind(self) -> str:
        """``dead_letter``, ``quarantine`` or ``stale``."""
        if self.line is not None:
            return "dead_letter"
        return "stale" if self.stale else "quarantine"


def _bad_line(case_id: str, line: bytes | str, reason: str, stream: str = "orders") -> HostileCase:
    raw = line.encode() if isinstance(line, str) else line
    return HostileCase(case_id, "lines", stream, line=raw, reason=reason)


def _state(value: Any) -> bytes:
    return json.dumps({"type": "STATE", "value": value}).encode()


def _record(stream: str, record: Any) -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


_ORDER = '{"type": "RECORD", "stream": "orders", "record": {"id": 1, "x": %s}}'
DEAD_LETTER_CASES = [
    _bad_line("truncated-json", _record("orders", {"id": 1})[:-7], "not valid JSON"),
    _bad_line("plain-text", "this is not a Singer message", "not valid JSON"),
    _bad_line("empty-line", "", "not valid JSON"),
    _bad_line("json-array", "[1, 2, 3]", "not a JSON object"),
    _bad_line("json-number", "42", "not a JSON object"),
    _bad_line("no-type", '{"stream": "orders", "record": {"id": 1}}', "no type"),
    _bad_line("unknown-type", '{"type": "RECORDZ", "stream": "orders"}', "unknown message type"),
    _bad_line("record-before-schema", _record("refunds", {"id": 1}), "before its SCHEMA"),
    _bad_line("record-without-stream", '{"type": "RECORD", "record": {}}', "stream"),
    _bad_line("record-missing", '{"type": "RECORD", "stream": "orders"}', "no record"),
    _bad_line("null-record", _record("orders", None), "record is null"),
    _bad_line("null-customer-record", _record("customers", None), "null", "customers"),
    _bad_line("record-an-array", _record("orders", [1, 2]), "not an object"),
    _bad_line("record-a-string", _record("orders", "order"), "not an object"),
    _bad_line("invalid-utf8", _ORDER.encode() % b'"\xff\xfe"', "not valid JSON"),
    _bad_line("nan-literal", _ORDER % "NaN", "not valid JSON"),
    _bad_line("infinity-literal", _ORDER % "Infinity", "not valid JSON"),
    _bad_line("nesting-101", _ORDER % ("[" * 99 + "]" * 99), "nesting"),
    _bad_line("nesting-100000", "[" * 100_000 + "]" * 100_000, "nesting"),
    _bad_line(
        "version-a-string", _record("orders", {"id": 1})[:-1] + ', "version": "x"}', "version"
    ),
    _bad_line("state-without-value", '{"type": "STATE"}', "STATE value"),
    _bad_line("state-value-a-string", _state("bookmarks"), "STATE value"),
    _bad_line("state-bookmarks-a-list", _state({"bookmarks": ["orders"]}), "bookmarks"),
    _bad_line("state-bookmark-a-string", _state({"bookmarks": {"orders": "x"}}), "bookmark"),
    _bad_line(
        "schema-without-properties", '{"type": "SCHEMA", "stream": "x", "schema": {}}', "SCHEMA"
    ),
    _bad_line(
        "activate-version-without-version",
        '{"type": "ACTIVATE_VERSION", "stream": "orders"}',
        "version",
    ),
]
#: Garbage STATE values the reader dead-letters; none may ever be printed by a target.
GARBAGE_STATES = ["bookmarks", {"bookmarks": ["orders"]}, {"bookmarks": {"orders": "x"}}]


def _customer(customer_id: int, **overrides: Any) -> Build:
    def build(store: SingerStore) -> dict[str, Any]:
        scratch = SingerStore(shop_domain=store.shop_domain, now=store.now)
        record = scratch.customer(abs(customer_id) % 10**6 or 1)
        record.update(id=customer_id, **overrides)
        return {"type": "RECORD", "stream": "customers", "record": record}

    return build


def _order(order_id: int, edit: Callable[[dict[str, Any]], None]) -> Build:
    def build(store: SingerStore) -> dict[str, Any]:
        scratch = SingerStore(shop_domain=store.shop_domain, now=store.now)
        scratch.customer(1)
        record = scratch.order(abs(order_id) % 10**6 or 1, 1, total="25.00")
        record["id"] = order_id
        edit(record)
        return {"type": "RECORD", "stream": "orders", "record": record}

    return build


def _total(value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        record["total_price_set"]["shop_money"]["amount"] = value

    return edit


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.update(values)


def _line_item(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record["line_items"][0].update(values)


def _refund_id(refund_id: int) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        refund = {
            "id": refund_id,
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
            "created_at": record["created_at"],
            "note": None,
            "total_refunded_set": money_bag("1.00"),
            "refund_line_items": [],
        }
        record["refunds"] = [refund]

    return edit


def _quarantine(case_id: str, stream: str, key: int, field: str, build: Build) -> HostileCase:
    return HostileCase(case_id, stream, stream, build=build, key=key, field=field)


_BIG = 2**64 + 7
QUARANTINE_CASES = [
    _quarantine("customer-id-beyond-64-bits", "customers", _BIG, "id", _customer(_BIG)),
    _quarantine("customer-id-2-63", "customers", 2**63, "id", _customer(2**63)),
    _quarantine("customer-id-0", "customers", 0, "id", _customer(0)),
    _quarantine("customer-id-negative", "customers", -9003, "id", _customer(-9003)),
    _quarantine(
        "email-5000-chars",
        "customers",
        9004,
        "email",
        _customer(9004, email="a" * 4988 + "@example.com"),
    ),
    _quarantine(
        "name-100000-chars",
        "customers",
        9005,
        "first_name",
        _customer(9005, first_name="N" * 100_000),
    ),
    _quarantine(
        "nul-in-name", "customers", 9006, "last_name", _customer(9006, last_name="Nul\x00Byte")
    ),
    _quarantine(
        "nul-in-email", "customers", 9007, "email", _customer(9007, email="nul\x00@example.com")
    ),
    _quarantine(
        "phone-65-chars", "customers", 9008, "phone", _customer(9008, phone="+1" + "5" * 63)
    ),
    _quarantine("tag-256-chars", "customers", 9009, "tags", _customer(9009, tags=["t" * 256])),
    _quarantine("note-5001-chars", "customers", 9010, "note", _customer(9010, note="n" * 5001)),
    _quarantine("order-id-beyond-64-bits", "orders", _BIG, "id", _order(_BIG, _set())),
    _quarantine("order-id-0", "orders", 0, "id", _order(0, _set())),
    _quarantine("order-id-negative", "orders", -5003, "id", _order(-5003, _set())),
    _quarantine(
        "order-customer-id-beyond-64-bits",
        "orders",
        5004,
        "customer_id",
        _order(5004, _set(customer_id=_BIG)),
    ),
    _quarantine(
        "order-customer-id-negative",
        "orders",
        5005,
        "customer_id",
        _order(5005, _set(customer_id=-1)),
    ),
    _quarantine(
        "line-item-id-beyond-64-bits",
        "orders",
        5006,
        "line_items",
        _order(5006, _line_item(id=_BIG)),
    ),
    _quarantine("refund-id-negative", "orders", 5007, "refunds", _order(5007, _refund_id(-3))),
    _quarantine(
        "money-1e30-string", "orders", 5008, "total_price_set", _order(5008, _total("1" + "0" * 30))
    ),
    _quarantine("money-1e30-number", "orders", 5009, "total_price_set", _order(5009, _total(1e30))),
    _quarantine(
        "money-10-15",
        "orders",
        5010,
        "total_price_set",
        _order(5010, _total("1000000000000000.00")),
    ),
    _quarantine(
        "money-a-json-float", "orders", 5011, "total_price_set", _order(5011, _total(25.5))
    ),
    _quarantine(
        "money-a-json-integer", "orders", 5012, "total_price_set", _order(5012, _total(25))
    ),
    _quarantine(
        "money-negative-total", "orders", 5013, "total_price_set", _order(5013, _total("-25.00"))
    ),
    _quarantine(
        "money-5-decimals", "orders", 5014, "total_price_set", _order(5014, _total("25.12345"))
    ),
    _quarantine("money-nan-string", "orders", 5015, "total_price_set", _order(5015, _total("NaN"))),
    _quarantine("money-empty-string", "orders", 5016, "total_price_set", _order(5016, _total(""))),
    _quarantine(
        "line-item-price-negative",
        "orders",
        5017,
        "line_items",
        _order(5017, _line_item(original_unit_price_set=money_bag("-1.00"))),
    ),
    _quarantine("nul-in-order-tag", "orders", 5018, "tags", _order(5018, _set(tags=["vip\x00"]))),
    _quarantine(
        "order-email-5000-chars",
        "orders",
        5019,
        "email",
        _order(5019, _set(email="o" * 4988 + "@example.com")),
    ),
    _quarantine(
        "line-item-title-1001-chars",
        "orders",
        5020,
        "line_items",
        _order(5020, _line_item(title="T" * 1001)),
    ),
]


def _stale_customer(store: SingerStore) -> dict[str, Any]:
    record = copy.deepcopy(store.customers[1])
    record.update(first_name="Stale", email="stale@example.com", updated_at="2001-01-01T00:00:00Z")
    return {"type": "RECORD", "stream": "customers", "record": record}


def _stale_order(store: SingerStore) -> dict[str, Any]:
    record = copy.deepcopy(store.orders[1001])
    record["updated_at"] = "2001-01-01T00:00:00Z"
    record["total_price_set"] = money_bag("999.00")
    record["current_total_price_set"] = money_bag("999.00")
    record["financial_status"] = "VOIDED"
    return {"type": "RECORD", "stream": "orders", "record": record}


STALE_CASES = [
    HostileCase(
        "older-customer-after-newer", "stale", "customers", build=_stale_customer, key=1, stale=True
    ),
    HostileCase(
        "older-order-after-newer", "stale", "orders", build=_stale_order, key=1001, stale=True
    ),
]
HOSTILE_CASES = DEAD_LETTER_CASES + QUARANTINE_CASES + STALE_CASES


@dataclass(frozen=True)
class HostileInput:
    """A sync with hostile items mixed in, and the line number each case landed on."""

    lines: list[bytes]
    line_numbers: dict[str, int]


def _encode(item: dict[str, Any] | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    return json.dumps(item, default=str).encode()


def hostile_input(store: SingerStore, cases: list[HostileCase]) -> HostileInput:
    """The store's complete sync (roster and manifest) with each case among good records.

    Each case goes after a good record of its stream and before another one; stale versions
    go after the last-but-one record, so the newer version they undercut came earlier.
    """
    messages: list[dict[str, Any] | bytes] = list(store.messages(roster_version=1))
    by_stream: dict[str, list[HostileCase]] = {}
    for case in cases:
        by_stream.setdefault(case.stream, []).append(case)
    placed: dict[int, list[HostileCase]] = {}
    for stream, stream_cases in by_stream.items():
        positions = [
            i
            for i, m in enumerate(messages)
            if isinstance(m, dict) and m.get("type") == "RECORD" and m["stream"] == stream
        ][:-1]  # never after the last one: a good record must follow
        for n, case in enumerate(stream_cases):
            at = positions[-1] if case.stale else positions[n % len(positions)]
            placed.setdefault(at, []).append(case)
    output: list[dict[str, Any] | bytes] = []
    owners: list[str | None] = []
    for i, message in enumerate(messages):
        output.append(message)
        owners.append(None)
        for case in placed.get(i, []):
            output.append(case.line if case.line is not None else case.build(store))  # type: ignore[misc]
            owners.append(case.id)
    output.extend(manifest_messages(output, store.shop_domain, store.now))
    line_numbers = {owner: n for n, owner in enumerate(owners, start=1) if owner is not None}
    return HostileInput([_encode(item) for item in output], line_numbers)


def good_input(store: SingerStore) -> list[bytes]:
    """The store's complete sync (roster and manifest), with nothing hostile in it."""
    return hostile_input(store, []).lines
