"""CRM rules: identity, contacts, consent, events, retention, roster. Pure: no I/O."""

from __future__ import annotations
