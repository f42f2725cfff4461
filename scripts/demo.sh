#!/usr/bin/env bash
# The main job on the embedded defaults: a demo store in the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m shopify_emulator.demo "$@"
