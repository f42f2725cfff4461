"""singer-sdk's standard tap tests, run against the emulator."""

from __future__ import annotations

import pytest
from shopify_emulator import EmulatorServer, generate_store
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_shopify_history.tap import TapShopifyHistory

# The SDK builds the test class from a config at import time; the emulator it points at
# starts in a class fixture below, which fills this same dict in before the first sync.
CONFIG: dict = {"store_url": "http://127.0.0.1:9", "access_token": "set-by-fixture"}

_Base = get_tap_test_class(
    TapShopifyHistory,
    config=CONFIG,
    suite_config=SuiteConfig(
        max_records_limit=None, ignore_no_records_for_streams=["privacy_requests"]
    ),
)


class TestTapShopifyHistory(_Base):  # type: ignore[misc,valid-type]
    @pytest.fixture(scope="class", autouse=True)
    def _emulator(self):
        server = EmulatorServer(generate_store(seed=5, customers=15, orders=40), bulk_seconds=0.2)
        server.start()
        CONFIG.update(store_url=server.base_url, access_token=server.token)
        yield server
        server.stop()


# The same suite with flattening on (issue: with a null nested object 3 of its cases failed).
FLAT_CONFIG: dict = {
    **CONFIG,
    "flattening_enabled": True,
    "flattening_max_depth": 3,
}

_FlatBase = get_tap_test_class(
    TapShopifyHistory,
    config=FLAT_CONFIG,
    suite_config=SuiteConfig(
        max_records_limit=None, ignore_no_records_for_streams=["privacy_requests"]
    ),
)


class TestTapShopifyHistoryFlattened(_FlatBase):  # type: ignore[misc,valid-type]
    # This one case checks flattened records against the *unflattened* `stream.schema`
    # (arrays and deep objects become JSON strings by design), so it cannot hold for any
    # stream with a list; test_flattening.py checks every record against the SCHEMA
    # message the tap sends instead, as a target does.
    test_tap_stream_record_matches_stream_schema = None

    @pytest.fixture(scope="class", autouse=True)
    def _emulator(self):
        server = EmulatorServer(generate_store(seed=5, customers=15, orders=40), bulk_seconds=0.2)
        server.start()
        FLAT_CONFIG.update(store_url=server.base_url, access_token=server.token)
        yield server
        server.stop()
