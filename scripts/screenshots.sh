#!/usr/bin/env bash
# Screenshots of the real window on a virtual X server (Debian's xvfb), into docs/screenshots/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NOTEBOOKLM_VENV:-$ROOT/.venv}"
unset QT_QPA_PLATFORM
# a real X server with a window manager (openbox), as users have: decorations, focus and placement are real
exec xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
  if command -v openbox >/dev/null; then openbox >/dev/null 2>&1 & sleep 0.5; fi
  QT_QPA_PLATFORM=xcb exec "$0" "$@"' "$VENV/bin/python" "$ROOT/scripts/screenshots.py" "$@"
