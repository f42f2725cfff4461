"""target-loyalty's defaults over the shared Singer record builder (testkit.singer_messages),
and run helpers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from target_loyalty.target import TargetLoyalty
from testkit.singer_messages import (
    OrderMoney,
    activate_version_message,
    customer_record,
    manifest_record,
    money_bag,
    order_record,
    record_message,
    refund_record,
    roster_record,
    schema_message,
    state_message,
)

SHOP = "demo-store.myshopify.com"
TARGET_EXE = str(Path(sys.executable).with_name("target-loyalty"))


def money(amount: str | Decimal, currency: str = "USD") -> dict[str, Any]:
    """A MoneyBag with the same amount in shop and presentment money, exactly as written."""
    return money_bag(amount, currency, places=None)


def at(day: int, month: int = 3, year: int = 2024) -> str:
    """An ISO UTC timestamp."""
    return f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"


def customer(
    cid: int, shop: str = SHOP, created: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``customers`` record."""
    record = customer_record(
        cid, shop_domain=shop, created_at=created or at(1, 1), email=f"c{cid}@example.com"
    )
    record.update(extra)
    return record


def refund(
    rid: int, amount: str, created: str | None = None, shipping: str = "0"
) -> dict[str, Any]:
    """A refund of one line item worth ``amount`` (plus optional refunded shipping)."""
    total = Decimal(amount) + Decimal(shipping)
    lines = (
        [{"line_item_id": 1, "quantity": 1, "subtotal_set": money(amount)}]
        if Decimal(amount)
        else []
    )
    return refund_record(rid, created or at(20), total, refund_line_items=lines, places=None)


def order(
    oid: int,
    cid: int | None,
    subtotal: str,
    *,
    shop: str = SHOP,
    created: str | None = None,
    updated: str | None = None,
    refunds: list[dict[str, Any]] | None = None,
    cancelled: str | None = None,
    test: bool = False,
    tags: list[str] | None = None,
    shipping: str = "5.00",
    tax: str = "2.00",
) -> dict[str, Any]:
    """An ``orders`` record; total = subtotal + shipping + tax."""
    total = Decimal(subtotal) + Decimal(shipping) + Decimal(tax)
    refunded = sum(
        (Decimal(r["total_refunded_set"]["shop_money"]["amount"]) for r in refunds or []),
        Decimal(0),
    )
    totals = OrderMoney(
        total=total,
        subtotal=subtotal,
        tax=tax,
        discounts="0.00",
        shipping=shipping,
        refunded=refunded,
        current_total=max(Decimal(0), total - refunded),
    )
    return order_record(
        oid,
        cid,
        shop_domain=shop,
        created_at=created or at(1),
        updated_at=updated or created or at(1),
        money=totals,
        places=None,
        cancelled_at=cancelled,
        cancel_reason="CUSTOMER" if cancelled else None,
        test=test,
        refunds=refunds or [],
        tags=tags or [],
    )


def roster(cid: int, shop: str = SHOP) -> dict[str, Any]:
    """A ``customer_roster`` record."""
    return roster_record(cid, shop_domain=shop, updated_at=at(1, 1))


#: The open schema these tests announce for every stream, the manifest included.
OPEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"shop_domain": {"type": "string"}, "id": {"type": "integer"}},
}


@dataclass
class Messages:
    """Singer messages in tap order, with SCHEMA written once per stream."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    _schemas: set[str] = field(default_factory=set)

    def _schema(self, stream: str) -> None:
        if stream not in self._schemas:
            self._schemas.add(stream)
            self.lines.append(schema_message(stream, OPEN_SCHEMA, ["shop_domain", "id"]))

    def records(
        self, stream: str, *records: dict[str, Any], version: int | None = None
    ) -> Messages:
        """Append RECORD messages."""
        self._schema(stream)
        self.lines.extend(record_message(stream, record, version) for record in records)
        return self

    def state(self, value: dict[str, Any]) -> Messages:
        """Append a STATE message."""
        self.lines.append(state_message(value))
        return self

    def roster(self, version: int, *cids: int, shop: str = SHOP) -> Messages:
        """A full roster version, bracketed by ACTIVATE_VERSION as singer-sdk taps send it."""
        self._schema("customer_roster")
        self.lines.append(activate_version_message("customer_roster", version))
        self.records("customer_roster", *(roster(c, shop) for c in cids), version=version)
        self.lines.append(activate_version_message("customer_roster", version))
        return self

    def text(self) -> str:
        """The messages as JSON lines."""
        return "".join(json.dumps(line) + "\n" for line in self.lines)


def run_target(config: dict[str, Any], messages: Messages | str) -> list[dict[str, Any]]:
    """Run TargetLoyalty in-process; returns the STATE values it emitted."""
    text = messages if isinstance(messages, str) else messages.text()
    target = TargetLoyalty(config=config, validate_config=True)
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(io.StringIO(text))
    target.engine.dispose()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def run_cli(config_path: Path, text: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the ``target-loyalty`` executable as a subprocess."""
    return subprocess.run(
        [TARGET_EXE, "--config", str(config_path)],
        input=text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ledger(url: str, shop: str = SHOP) -> list[tuple[Any, ...]]:
    """The ledger as sorted (customer, source, kind, points, cashback) tuples."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT customer_id, source, kind, points, cashback FROM loyalty_ledger "
                "WHERE shop_domain = :shop"
            ),
            {"shop": shop},
        ).all()
    engine.dispose()
    return sorted((r[0], r[1], r[2], int(r[3]), Decimal(str(r[4])).normalize()) for r in rows)


def balances(url: str, shop: str = SHOP) -> dict[int, int]:
    """Points balance per customer, summed from the ledger."""
    out: dict[int, int] = {}
    for cid, _source, _kind, points, _cash in ledger(url, shop):
        out[cid] = out.get(cid, 0) + points
    return out


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of an arbitrary read-only query."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), params).all()
    engine.dispose()
    return rows


def manifest_row(
    stream: str,
    emitted: int,
    *,
    before: int | None = None,
    after: int | None = None,
    excluded: dict[str, int] | None = None,
    part: str = "window",
    shop: str = SHOP,
    run_id: str = "tap-run-1",
) -> dict[str, Any]:
    """A ``sync_manifest`` record (docs/record-contract.md); counts default to ``emitted``."""
    return manifest_record(
        stream,
        emitted,
        shop_domain=shop,
        run_id=run_id,
        finished_at=at(1, 6),
        window_end=at(1, 6),
        before=before,
        after=after,
        excluded=excluded,
        part=part,
    )


def with_manifest(messages: Messages, *rows: dict[str, Any]) -> Messages:
    """Append the tap's manifest (emitted last, after every other stream)."""
    return messages.records("sync_manifest", *rows)


def manifest_for(messages: Messages, shop: str = SHOP) -> Messages:
    """Append a manifest that accounts exactly for the records already in ``messages``."""
    counts: dict[str, int] = {}
    for line in messages.lines:
        if line["type"] == "RECORD" and line["record"].get("shop_domain") == shop:
            counts[line["stream"]] = counts.get(line["stream"], 0) + 1
    rows = [manifest_row(stream, n, shop=shop) for stream, n in sorted(counts.items())]
    return with_manifest(messages, *rows)
