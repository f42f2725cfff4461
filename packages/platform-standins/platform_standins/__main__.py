"""``python -m platform_standins``."""

from __future__ import annotations

from platform_standins.cli import main

main()
