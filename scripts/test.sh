#!/usr/bin/env bash
# Runs the whole test suite: the same lint as `make lint` (ruff check, ruff format --check,
# import-linter contracts), then pytest (two workers, one per core). The Hub definitions are
# validated by tests/test_hub_definitions.py, the meltano.yml drift by --check in pytest.
set -euo pipefail
# The e2e tests run meltano, whose per-run config files hold secrets: keep them private.
umask 077
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
exec .venv/bin/pytest -n 2 "$@"
