"""The CRM's delivery engine: target_runtime's engine over the outbox in the CRM store.

The pacing, retries and the adapter protocol are the runtime's (`target_runtime.delivery`);
what is the CRM's is where rows and requests live (`outbox`, the CRM tables) and what a sent
request records (payload hashes, platform user ids, scheduled merges, forgotten erasures).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from target_runtime.delivery import engine as runtime
from target_runtime.delivery.engine import Adapter, Policy
from target_runtime.delivery.items import Item, OutboxRow

from target_crm.delivery import outbox
from target_crm.delivery.common import contact_key

__all__ = ["Adapter", "CrmOutbox", "DeliveryEngine", "Policy"]

LOGGER = logging.getLogger("target_crm.delivery")


class CrmOutbox:
    """The runtime's `Outbox` over the CRM store's `outbox` and `delivery_requests` tables."""

    def __init__(self, store: Engine) -> None:
        self.store = store

    def prepare(self, destination: str, *, resend_in_doubt: bool, now: datetime) -> int:
        """Queue what the store holds but the destination never saw; settle in-doubt requests."""
        outbox.backfill(self.store, destination, now)
        return outbox.recover(self.store, destination, resend=resend_in_doubt, now=now)

    def release_due(self, destination: str, now: datetime) -> int:
        """Scheduled merges that are due become pending."""
        return outbox.release_due(self.store, destination, now)

    def pending(self, destination: str, limit: int) -> list[OutboxRow]:
        """Contacts first, then events in Shopify time order."""
        return outbox.pending(self.store, destination, limit)

    def reading(self) -> AbstractContextManager[Connection]:
        """A connection to the store, for the adapters' `build`."""
        return self.store.connect()

    def settle_local(self, destination: str, items: Sequence[Item], run_id: str) -> None:
        """Record outcomes decided without a request."""
        outbox.settle_local(self.store, destination, items, run_id)

    def start_request(  # noqa: PLR0917 (the runtime's protocol)
        self,
        destination: str,
        request_id: str,
        run_id: str,
        items: Sequence[Item],
        size: int,
        now: datetime,
    ) -> None:
        """Record the request and mark its rows `sending`."""
        outbox.start_request(self.store, destination, request_id, run_id, items, size, now)

    def finish_request(
        self,
        request_id: str,
        status: str,
        *,
        row_status: str,
        attempts: int,
        http_status: int | None,
        answer: str | None,
        now: datetime,
        sent: Sequence[Item],
        lost_answers: int,
        merge_delay_seconds: float | None,
    ) -> None:
        """Record the end; a sent request's payload hashes and contacts' user ids with it."""
        outbox.finish_request(
            self.store,
            request_id,
            status,
            row_status=row_status,
            attempts=attempts,
            http_status=http_status,
            answer=answer,
            now=now,
            hashes={(i.row.entity, i.row.entity_key): i.digest for i in sent} or None,
            lost_answers=lost_answers,
            identities=[(*contact_key(i.row), i.identity) for i in sent if i.identity is not None],
            merge_delay_seconds=merge_delay_seconds,
        )

    def save_feedback(
        self, destination: str, run_id: str, errors: list[tuple[str, str]], now: datetime
    ) -> None:
        """The platform's error list, for the report."""
        from target_crm.delivery.report import save_feedback  # noqa: PLC0415

        save_feedback(self.store, destination, run_id, errors, now)


class DeliveryEngine(runtime.DeliveryEngine):
    """The runtime's engine on the CRM store (logging as `target_crm.delivery`)."""

    def __init__(
        self,
        store: Engine,
        adapters: Sequence[Adapter],
        run_id: str,
        policy: Policy,
        **options: Any,
    ) -> None:
        """`options`: the runtime engine's `now`, `sleep` and `clock`."""
        super().__init__(CrmOutbox(store), adapters, run_id, policy, logger=LOGGER, **options)
        self.store = store
