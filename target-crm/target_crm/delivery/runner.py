"""The target's side of delivery: drain after each committed batch, close the run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from target_crm.delivery.config import DeliveryConfig
from target_crm.delivery.engine import DeliveryEngine
from target_crm.delivery.report import delivery_report, summary_line

LOGGER = logging.getLogger("target_crm.delivery")


class RunDelivery:
    """One run's delivery: the engine for the destinations that are on."""

    def __init__(
        self, store: Engine, config: DeliveryConfig, run_id: str, now: Callable[[], datetime]
    ) -> None:
        """Build the engine (nothing is sent until `after_batch` or `close`)."""
        self.config, self.store, self.run_id = config, store, run_id
        self.engine = DeliveryEngine(store, config.adapters, run_id, config.policy, now=now)

    def after_batch(self) -> None:
        """Send what the batch just committed queued (and anything left from before)."""
        self.engine.drain()

    def close(self) -> tuple[bool, str]:
        """Last drain, the platforms' own feedback, one summary line per destination.

        Returns:
            (complete, message): complete is False when rows are still waiting for a
            request (a destination refused our key or kept failing); the message counts
            what was sent, rejected, in doubt and outside retention.
        """
        self.engine.drain()
        self.engine.poll_feedback()
        with self.store.connect() as conn:
            entries = [
                e for e in delivery_report(conn, self.run_id) if e["destination"] in self.names
            ]
        for entry in entries:
            LOGGER.info("Delivery %s", summary_line(entry))
        parts = [summary_line(e) for e in entries]
        parts += list(self.engine.failures.values())
        waiting = sum(e["queued"] for e in entries)
        dry = self.config.policy.dry_run_dir is not None
        if dry:
            parts.append(f"dry run: payloads written under {self.config.policy.dry_run_dir}")
        complete = dry or (waiting == 0 and not self.engine.failures)
        return complete, "; ".join(parts)

    @property
    def names(self) -> list[str]:
        """The destinations that are on."""
        return self.config.names
