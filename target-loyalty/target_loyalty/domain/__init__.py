"""The loyalty program's rules as pure functions over frozen dataclasses (no I/O)."""

from __future__ import annotations
