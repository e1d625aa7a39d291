"""The layering rules are enforced: import-linter contracts, and a GUI-free core at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_pass() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 5 kept, 0 broken." in out.stdout


def test_cli_and_core_do_not_load_qt_or_heavy_libraries() -> None:
    code = (
        "import sys, notebooklm_local.cli, notebooklm_local.core.settings, notebooklm_local.core.paths,"
        " notebooklm_local.core.instance, notebooklm_local.core.jobs, notebooklm_local.core.context;"
        "bad = [m for m in ('PySide6', 'llama_cpp', 'chromadb', 'pypdf') if m in sys.modules];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles_between_our_modules() -> None:
    """Counting imports inside functions too (a lazy import that closes a circle still ties two modules)."""
    import grimp

    g = grimp.build_graph("notebooklm_local")
    mods = [m for m in g.modules if m.startswith("notebooklm_local")]
    graph = {m: sorted(n for n in g.find_modules_directly_imported_by(m) if n.startswith("notebooklm_local"))
             for m in mods}
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]  # the finder finds
    assert _cycles(graph) == []
