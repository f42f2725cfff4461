"""The ``privacy_requests`` stream: deletions and compliance requests from the webhook queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_shopify_history.privacy import privacy_record
from tap_shopify_history.streams.base import ShopifyStream


class PrivacyRequestsStream(ShopifyStream):
    """One record per privacy request (/docs/record-contract.md, ``privacy_requests``).

    Emitted after ``customers`` and ``orders`` (a redaction applies after the records the
    same run re-fetched) and only with ``webhook_queue_url`` set; then it also puts the
    queue position into STATE, after every record the page led to.
    """

    name = "privacy_requests"
    primary_keys: ClassVar[list[str]] = ["shop_domain", "request_id"]
    replication_key = "queue_position"
    is_sorted = True

    @property
    def selected(self) -> bool:
        """With the queue configured, always (it carries the position); never without."""
        return bool(self.config.get("webhook_queue_url"))

    @selected.setter
    def selected(self, value: bool | None) -> None:
        # The SDK sets selection from the catalog; the queue setting decides.
        del value

    def increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Move the bookmark to the record's queue position, only ever forward.

        Args:
            latest_record: The record just written.
            context: Stream partition.
        """
        state = self.get_context_state(context)
        position = latest_record["queue_position"]
        if position > (state.get("replication_key_value") or 0):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = position
        self.state_manager.is_flushed = False

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield the run's privacy requests in queue order, then keep the queue position.

        Args:
            context: Stream partition.
        """
        queue = self.tap.queue_read  # type: ignore[attr-defined]
        if queue is None or self.sample_limit is not None:
            return
        gone = self.tap.gone_customers  # type: ignore[attr-defined]
        hints = [queue.deleted[i] for i in sorted(gone) if i in queue.deleted]
        hints.extend(queue.privacy)
        for hint in sorted(hints, key=lambda h: h.position):
            yield privacy_record(hint)
        self.tap.keep_queue_position()  # type: ignore[attr-defined]
        self.state_manager.is_flushed = False
