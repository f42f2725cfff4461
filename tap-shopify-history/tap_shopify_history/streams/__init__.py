"""The tap's streams, in the order they sync."""

from __future__ import annotations

from tap_shopify_history.streams.customers import CustomersStream
from tap_shopify_history.streams.manifest import SyncManifestStream
from tap_shopify_history.streams.orders import OrdersStream
from tap_shopify_history.streams.privacy import PrivacyRequestsStream
from tap_shopify_history.streams.roster import CustomerRosterStream

STREAM_TYPES = (
    CustomersStream,
    OrdersStream,
    PrivacyRequestsStream,
    CustomerRosterStream,
    SyncManifestStream,
)

__all__ = [
    "STREAM_TYPES",
    "CustomerRosterStream",
    "CustomersStream",
    "OrdersStream",
    "PrivacyRequestsStream",
    "SyncManifestStream",
]
