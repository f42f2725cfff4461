"""The ``sync_manifest`` stream: the run's own account, emitted after every other stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_shopify_history.streams.base import ShopifyStream


class SyncManifestStream(ShopifyStream):
    """One record per stream and part this run read (docs/record-contract.md)."""

    name = "sync_manifest"
    primary_keys: ClassVar[list[str]] = ["shop_domain", "run_id", "stream", "part"]
    replication_key = None

    @property
    def selected(self) -> bool:
        """Always: without the manifest a target cannot tell a finished run from a killed one."""
        return True

    @selected.setter
    def selected(self, value: bool | None) -> None:
        # The SDK sets selection from the catalog; the manifest is emitted regardless.
        del value

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield the manifest of the streams read before this one.

        Args:
            context: Stream partition.
        """
        manifest = self.tap.manifest  # type: ignore[attr-defined]
        if not manifest.parts:
            return
        yield from manifest.records(self.session.shop_domain)
