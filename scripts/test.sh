#!/usr/bin/env bash
# Runs the whole test suite: lint, import contracts, then pytest (two workers, one per core).
set -euo pipefail
# The e2e tests run meltano, whose per-run config files hold secrets: keep them private.
umask 077
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/pytest -n 2 "$@"
