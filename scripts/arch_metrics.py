"""Structure figures of the package (issue 16's "before/after"): run on a checkout, print a table.

    .venv/bin/python scripts/arch_metrics.py [ROOT]        # ROOT: a checkout (default: this one)

- largest modules (lines) under notebooklm_local/;
- modules that construct services or stores (a call of LibraryService(, ChatService(, StudioService(,
  LlamaCppEngine(, LlamaCppEmbedder(, ChromaIndex(…) / ChromaIndex.persistent(, Library(, ChatStore(,
  NoteStore(, StudioStore() outside the module that defines the class;
- UI modules that run background work by hand: they create a FunctionWorker, a QThread or a QThreadPool,
  or define their own relay/job class (ui/workers.py, which defines the pools, and ui/ops.py, the one
  builder, are the machinery and not counted);
- import cycles: strongly connected groups of the package's modules (grimp, as tests/test_layers.py finds them);
- mypy errors on the files pyproject.toml names (when it names any).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

STORES = ("ChatStore", "NoteStore", "StudioStore")  # thin SQL helpers over a Library (no state of their own)
SERVICES = ("LibraryService", "ChatService", "StudioService", "LlamaCppEngine", "LlamaCppEmbedder", "ChromaIndex",
            "Library", *STORES)
_CALL = re.compile(r"(?<![\w.])(" + "|".join(SERVICES) + r")(?:\.persistent)?\(")
_DEFINES = re.compile(r"^class (" + "|".join(SERVICES) + r")\b", re.M)
_HAND_JOB = re.compile(r"FunctionWorker\(|QThread\(|QThreadPool\(|^class _(Relay|Job|Call|TokenRelay|NoteRelay)\b", re.M)


def modules(root: Path) -> list[Path]:
    return sorted(p for p in (root / "notebooklm_local").rglob("*.py") if "__pycache__" not in p.parts)


_SCC = """
import sys, grimp
sys.setrecursionlimit(100000)
g = grimp.build_graph("notebooklm_local")
mods = sorted(m for m in g.modules if m.startswith("notebooklm_local"))
succ = {m: [n for n in g.find_modules_directly_imported_by(m) if n.startswith("notebooklm_local")] for m in mods}
pred = {m: [] for m in mods}
for m, ns in succ.items():
    for n in ns:
        pred[n].append(m)
order, seen = [], set()
def visit(m):
    seen.add(m)
    for n in succ[m]:
        if n not in seen:
            visit(n)
    order.append(m)
for m in mods:
    if m not in seen:
        visit(m)
comp = {}
def assign(m, c):
    comp[m] = c
    for n in pred[m]:
        if n not in comp:
            assign(n, c)
for m in reversed(order):
    if m not in comp:
        assign(m, m)
sizes = {}
for m, c in comp.items():
    sizes[c] = sizes.get(c, 0) + 1
print(sum(1 for v in sizes.values() if v > 1))
"""


def cycles(root: Path) -> int | None:
    """Strongly connected groups of more than one module (imports inside functions count too)."""
    try:
        out = subprocess.run([sys.executable, "-c", _SCC], cwd=root, capture_output=True, text=True, timeout=600,
                             env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
        return int(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def mypy_errors(root: Path) -> int | None:
    if "[tool.mypy]" not in (root / "pyproject.toml").read_text(encoding="utf-8"):
        return None
    out = subprocess.run([str(Path(sys.executable).parent / "mypy")], cwd=root, capture_output=True, text=True,
                         timeout=900)
    m = re.search(r"Found (\d+) error", out.stdout)
    return int(m.group(1)) if m else (0 if "Success" in out.stdout else None)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    files = modules(root)
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), p.relative_to(root).as_posix()) for p in files),
                   reverse=True)
    constructing, hand_jobs = [], []
    for p in files:
        src = p.read_text(encoding="utf-8")
        own = set(_DEFINES.findall(src))
        made = {m.group(1) for m in _CALL.finditer(src)} - own
        rel = p.relative_to(root).as_posix()
        if made:
            constructing.append(f"{rel} ({', '.join(sorted(made))})")
        if "/ui/" in f"/{rel}" and not rel.endswith(("ui/workers.py", "ui/ops.py")) and _HAND_JOB.search(src):
            hand_jobs.append(rel)
    print(f"checkout: {root}")
    print(f"modules: {len(files)}; largest: " + ", ".join(f"{p} {n}" for n, p in sizes[:3]))
    services_only = [c for c in constructing
                     if set(c[c.index("(") + 1:-1].split(", ")) - set(STORES)]
    ui_any = [c for c in constructing if "/ui/" in c]
    print(f"modules that construct services or stores: {len(constructing)}; services or a Library (not only "
          f"stores): {len(services_only)}; UI modules among them: {len(ui_any)} "
          f"({sum(1 for c in ui_any if c in services_only)} build a service or a Library)")
    for c in constructing:
        print(f"    {c}")
    print(f"UI modules that run background work by hand: {len(hand_jobs)}")
    for h in hand_jobs:
        print(f"    {h}")
    print(f"import cycles (strongly connected groups of modules): {cycles(root)}")
    print(f"mypy errors: {mypy_errors(root)}")


if __name__ == "__main__":
    main()
