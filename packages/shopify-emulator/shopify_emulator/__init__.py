"""A local, faithful Shopify GraphQL Admin API for tests, benchmarks and demos.

Example:
    >>> from shopify_emulator import EmulatorServer, StoreBuilder, generate_store
"""

from __future__ import annotations

from shopify_emulator.builder import StoreBuilder
from shopify_emulator.control import Control
from shopify_emulator.emulator import FULL_SCOPES, EmulatorServer
from shopify_emulator.faults import Faults
from shopify_emulator.generator import generate_store
from shopify_emulator.store import Store

__all__ = [
    "FULL_SCOPES",
    "Control",
    "EmulatorServer",
    "Faults",
    "Store",
    "StoreBuilder",
    "generate_store",
]
