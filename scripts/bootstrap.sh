#!/usr/bin/env bash
# Installs everything the project needs from nothing but Python 3.11 and pip:
# uv into a private tools venv, then the locked workspace into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION="0.9.18"
if [ ! -x .tools/bin/uv ]; then
  python3 -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
export UV_PYTHON_DOWNLOADS=never
# Compile every module once, at install: the suite and the benchmarks start hundreds of
# plugin processes, and where PYTHONDONTWRITEBYTECODE is set (as on some CI images) each of
# them would otherwise compile its ~800 modules from source again (about 1.2 s of CPU each).
.tools/bin/uv sync --locked --all-packages --python "$(command -v python3)" --quiet --compile-bytecode
.venv/bin/python -m compileall -q -j 0 tap-shopify-history target-loyalty target-crm packages scripts > /dev/null
