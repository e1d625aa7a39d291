#!/usr/bin/env bash
# Build the one-folder bundle: dist/notebooklm-local/notebooklm-local (+ its _internal/ folder).
# Uses the project's venv (made by `make setup-dev`), so the bundle carries the llama.cpp backend that
# venv was built with (CPU by default, with this CPU's AVX-512 where it has it: `BACKEND=portable make
# setup-dev` first for a bundle that runs on any x86-64-v3 machine; `BACKEND=cuda` for a CUDA bundle).
#   packaging/build.sh [--smoke]      --smoke: then run the bundle's --version and doctor
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${NOTEBOOKLM_VENV:-.venv}"
PY="$VENV/bin/python"
[ -x "$PY" ] || { echo "no venv at $VENV: run 'make setup-dev' first" >&2; exit 1; }
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  "$PY" -m pip install -q "pyinstaller>=6.10,<7"
fi
DIST="${NOTEBOOKLM_DIST:-dist}"
WORK="${NOTEBOOKLM_BUILD:-build/pyinstaller}"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$WORK" \
  packaging/notebooklm-local.spec
BIN="$DIST/notebooklm-local/notebooklm-local"
echo "bundle: $BIN ($(du -sh "$DIST/notebooklm-local" | cut -f1))"
if [ "${1:-}" = "--smoke" ]; then
  "$BIN" --version
  "$BIN" --basedir "$(mktemp -d)" doctor
fi
