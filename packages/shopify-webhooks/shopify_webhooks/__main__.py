"""``python -m shopify_webhooks``."""

from __future__ import annotations

from shopify_webhooks.cli import main

main()
