#!/usr/bin/env bash
# Run the whole test suite in the project's venv (set up by scripts/bootstrap.sh --dev).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NOTEBOOKLM_VENV:-$ROOT/.venv}"
cd "$ROOT"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export ANONYMIZED_TELEMETRY=False
"$VENV/bin/ruff" check notebooklm_local tests bench plugins
"$VENV/bin/mypy"  # the files and options are in pyproject.toml [tool.mypy]
exec "$VENV/bin/python" -m pytest "$@"
