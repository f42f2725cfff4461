#!/usr/bin/env bash
# The main job on the embedded defaults: the emulator's demo store, synced by Meltano into SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py "$@"
