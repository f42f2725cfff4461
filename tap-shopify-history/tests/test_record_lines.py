"""RECORD lines written straight from the record are the bytes singer-sdk's own path writes."""

from __future__ import annotations

import contextlib
import io
import json
import re
from typing import Any

import pytest
from shopify_emulator import StoreBuilder
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_shopify_history.record_lines import RecordLineWriter
from tap_shopify_history.streams.base import ShopifyStream
from tap_shopify_history.tap import TapShopifyHistory

# The clock's: when a record was read, and the roster's version (the run's start time).
TIME_EXTRACTED = re.compile(rb',"time_extracted":"[^"]*"')
VERSION = re.compile(rb',"version":\d+')


class HookedWriter(RecordLineWriter):
    """Wraps write_message, so every RECORD takes singer-sdk's message path."""

    messages = 0

    def write_message(self, message: Any) -> None:
        HookedWriter.messages += 1
        super().write_message(message)


class SdkPathTap(TapShopifyHistory):
    message_writer_class = HookedWriter


def record_lines(tap_class: type[TapShopifyHistory], config: dict[str, Any]) -> list[bytes]:
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8")
    with contextlib.redirect_stdout(text):
        tap_class(config=config, parse_env_config=False).sync_all()
        text.flush()
    lines = []
    for line in buffer.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] != "RECORD" or message["stream"] == "sync_manifest":
            continue  # the manifest carries the run's id and clock
        stamped = TIME_EXTRACTED.sub(b',"time_extracted":"(the clock)"', line)
        lines.append(VERSION.sub(b',"version":"(the run start)"', stamped))
    return lines


def store() -> Any:
    builder = StoreBuilder(seed=8)
    for n in range(5):
        builder.customer(tags=["vip", "é"] if n % 2 else [], phone=f"+1415555010{n}")
        builder.order(refund="partial" if n % 2 == 0 else None, line_items=n + 1)
        builder.order(refund="multiple", cancelled=n == 1, line_items=3)
    builder.customer(email=None).order(test=True).order(guest=True, currency="EUR")
    return builder.build()


@pytest.mark.parametrize("mode", ["bulk", "paginated"])
def test_direct_record_lines_equal_the_sdk_path_byte_for_byte(
    emulator_factory, monkeypatch, mode: str
) -> None:
    server = emulator_factory(store=store(), plan="plus", bulk_seconds=0.1)
    config = {
        "store_url": server.base_url,
        "access_token": server.token,
        "extraction_mode": mode,
        "include_test_orders": True,
    }
    direct = record_lines(TapShopifyHistory, config)
    HookedWriter.messages = 0
    # singer-sdk's default conformance, and every message through write_message.
    monkeypatch.setattr(ShopifyStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE)
    through_sdk = record_lines(SdkPathTap, config)
    assert HookedWriter.messages > len(through_sdk)  # the hook saw every record
    assert len(direct) == len(through_sdk) > 20
    assert direct == through_sdk
    assert any(b'"refund_line_items":[{' in line for line in direct)
    assert all(b'"time_extracted":' in line for line in direct)
    assert any(b'"version":' in line for line in direct)
