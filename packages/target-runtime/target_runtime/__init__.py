"""Product-neutral plumbing shared by the suite's singer-sdk targets."""

from __future__ import annotations
