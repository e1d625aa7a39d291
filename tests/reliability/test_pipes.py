"""Progress output never fails work; re-adding a failed or unfinished source retries it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from notebooklm_local.core.library import SourceStatus
from tests.conftest import cli_exe
from tests.reliability.test_hangs import lexical_service


def _cli(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_exe(), *args], capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]


def test_add_with_stderr_closed_leaves_the_source_ready(tmp_path: Path) -> None:
    doc = tmp_path / "long.txt"
    doc.write_text("\n\n".join(f"Paragraph {i} about rivers, deltas and sediment." for i in range(400)),
                   encoding="utf-8")
    assert _cli("notebook", "create", "nb").returncode == 0
    # `add ... 2>&1 | head -1`, made deterministic: the reader of stderr is gone before the first write
    r, w = os.pipe()
    os.close(r)
    with open(tmp_path / "out.txt", "w") as out:
        p = subprocess.run([*cli_exe(), "add", str(doc), "-n", "nb", "--lexical-only"], stdout=out, stderr=w,
                           timeout=120, check=False)
    os.close(w)
    assert p.returncode == 0, (tmp_path / "out.txt").read_text()
    (src,) = json.loads(_cli("sources", "-n", "nb", "--json").stdout)
    assert src["status"] == "ready" and src["error"] is None and src["chunks"] > 1


def test_readding_a_failed_source_retries_it(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Sourdough bread needs a starter of flour and water.", encoding="utf-8")
    lib = lexical_service()
    nb = lib.create_notebook("nb")
    (first,) = lib.add("nb", [str(f)]).added
    lib.library.update_source(first.id, status=SourceStatus.FAILED, error="BrokenPipeError")  # as before the fix
    report = lib.add("nb", [str(f)])
    assert not report.duplicates and [s.status for s in report.added] == [SourceStatus.READY]
    assert [s.status for s in lib.library.sources(nb.id)] == [SourceStatus.READY]


def test_readding_an_unfinished_source_retries_it(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Kepler's third law relates the orbital period to the distance.", encoding="utf-8")
    lib = lexical_service()
    nb = lib.create_notebook("nb")
    (first,) = lib.add("nb", [str(f)]).added
    lib.library.update_source(first.id, status=SourceStatus.CHUNKED)  # a crash before embedding finished
    report = lib.add("nb", [str(f)])
    assert not report.duplicates and len(report.added) == 1
    assert [s.status for s in lib.library.sources(nb.id)] == [SourceStatus.READY]


def test_readding_a_ready_source_is_still_a_duplicate(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Magma rises through the crust.", encoding="utf-8")
    lib = lexical_service()
    lib.create_notebook("nb")
    lib.add("nb", [str(f)])
    report = lib.add("nb", [str(f)])
    assert len(report.duplicates) == 1 and not report.added
