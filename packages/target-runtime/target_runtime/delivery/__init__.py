"""Platform-neutral delivery: an outbox drained to a platform's API by a paced, retrying engine.

A target keeps its own outbox tables (behind :class:`~target_runtime.delivery.engine.Outbox`)
and its platforms' adapters (:class:`~target_runtime.delivery.engine.Adapter`); the engine
packs, paces, sends, retries and records (see the package README, "Delivery").
"""

from __future__ import annotations
