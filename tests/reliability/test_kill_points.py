"""kill -9 at several points of ingestion, then `resume`: SQLite and the index agree, no duplicates, ready.

The child process is killed by itself at an exact point (a test-only patch in the child, nothing in the
app), so each point is hit every time instead of by timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from notebooklm_local.core.library import Library, SourceStatus
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from tests.helpers.embedders import HashEmbedder as _HashEmbedder

HashEmbedder = _HashEmbedder("test:hash-embedder:kill")  # one instance: its model_id is read below


def service() -> LibraryService:
    paths = app_paths().ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", HashEmbedder)  # type: ignore[arg-type]
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                          index)


CHILD = r'''
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.reliability.test_kill_points import service
from notebooklm_local.services import library_service as ls
point = {point!r}
lib = service()
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if point == "before-extract":
    lib._extract = die
elif point == "before-blob":
    lib._store_blob = die
elif point == "before-chunks":
    lib.library.replace_chunks = die
elif point == "mid-embed":
    real, calls = lib.index.add, []
    def add(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            die()
        return real(*a, **k)
    lib.index.add = add
elif point == "after-vectors-before-mark":
    real_mark = lib.library.mark_embedded
    lib.library.mark_embedded = die
elif point == "before-ready":
    real_update = lib.library.update_source
    def update(sid, **f):
        if f.get("status") == "ready":
            die()
        return real_update(sid, **f)
    lib.library.update_source = update
lib.add("nb", [{doc!r}])
print("not killed")
'''

POINTS = ["before-extract", "before-blob", "before-chunks", "mid-embed", "after-vectors-before-mark", "before-ready"]


@pytest.mark.parametrize("point", POINTS)
def test_kill_minus_nine_then_resume_is_consistent(point: str, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("\n\n".join(f"Paragraph {i}: moraines mark where glaciers stopped, {i} metres high."
                               for i in range(400)), encoding="utf-8")
    lib = service()
    nb = lib.create_notebook("nb")
    lib.library.close()
    root = str(Path(__file__).resolve().parents[2])
    p = subprocess.run([sys.executable, "-c", CHILD.format(root=root, point=point, doc=str(doc))],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout, p.stderr[-2000:])

    lib = service()
    lib.resume()
    srcs = lib.library.sources(nb.id)
    assert len(srcs) == 1, [(s.status, s.error) for s in srcs]
    (src,) = srcs
    assert src.status == SourceStatus.READY and src.n_chunks > 16
    assert lib.index is not None
    chunk_ids = lib.library.chunk_ids(nb.id)
    assert len(chunk_ids) == src.n_chunks
    assert lib.index.ids(nb.id) == chunk_ids, "index and database disagree after resume"
    assert lib.library.count_unembedded(src.id, HashEmbedder.model_id) == 0
    assert lib.reconcile() == {"orphan_vectors": 0, "missing_vectors": 0}
    again = lib.add("nb", [str(doc)])  # the same file once more: a duplicate now, not a second copy
    assert len(again.duplicates) == 1 and len(lib.library.sources(nb.id)) == 1
