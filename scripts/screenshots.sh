#!/usr/bin/env bash
# Screenshots of the real window on a virtual X server (Debian's xvfb), into docs/screenshots/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NOTEBOOKLM_VENV:-$ROOT/.venv}"
unset QT_QPA_PLATFORM
exec xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb "$VENV/bin/python" "$ROOT/scripts/screenshots.py" "$@"
