"""target-loyalty: a Singer target keeping a loyalty points ledger that never double-counts."""

from __future__ import annotations
