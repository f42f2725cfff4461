#!/usr/bin/env bash
# The main job on the embedded defaults: the emulator's demo store, synced by Meltano into SQLite.
set -euo pipefail
# Meltano's per-run config files (.meltano/run/) hold the token; keep them (and the books) private.
umask 077
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py "$@"
