"""The smaller hostile-world items: script/data links, empty folders, binary 'web pages', reading while
another process writes, and the size estimate before long embedding."""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from notebooklm_local.cli import _confirm_large, main
from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library, SourceStatus
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.loaders.web import WebLoader
from tests.reliability.test_hangs import lexical_service


@pytest.mark.parametrize("item", ["javascript:alert(1)", "data:text/html,<b>x</b>", "JavaScript:void(0)"])
def test_script_and_data_links_are_named_as_such(item: str) -> None:
    lib = lexical_service()
    lib.create_notebook("nb")
    report = lib.add("nb", [item])
    (failed,) = report.failed
    assert "links cannot be added" in failed[1] and "not found" not in failed[1].lower()


def test_a_folder_with_nothing_addable_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"\xff\xd8\xff")
    assert main(["notebook", "create", "nb"]) == 0
    capsys.readouterr()
    assert main(["add", str(folder), "-n", "nb", "--lexical-only"]) == 1
    out, err = capsys.readouterr()
    assert "nothing to add" in err and "skipped" in err and out == ""  # skipped inputs are warnings: stderr


def _page(content: bytes, ctype: str = "text/html") -> WebLoader:
    return WebLoader(transport=httpx.MockTransport(lambda _r: httpx.Response(200, headers={"content-type": ctype},
                                                                             content=content)))


@pytest.mark.parametrize("ctype", ["text/html", "text/plain", ""])
def test_random_bytes_served_as_a_page_are_refused(ctype: str) -> None:
    junk = random.Random(5).randbytes(20_000)
    with pytest.raises(SourceLoadError, match="binary data"):
        _page(junk, ctype).load(SourceRef(url="http://127.0.0.1/page.html"), CancelToken())


def test_a_real_page_still_loads() -> None:
    html = b"<html><head><title>Deltas</title></head><body><article><h1>Deltas</h1>" + (
        b"<p>Rivers slow down at the coast and drop their sediment, building deltas over centuries.</p>" * 5
    ) + b"</article></body></html>"
    doc = _page(html).load(SourceRef(url="http://127.0.0.1/page.html"), CancelToken())
    assert "sediment" in doc.text


def test_sources_can_be_read_while_another_process_writes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebook", "create", "nb"]) == 0
    capsys.readouterr()
    with InstanceLock(app_paths().lock_file):  # as a running `add` or the app holds it
        assert main(["sources", "-n", "nb"]) == 0
        assert main(["notebook", "list"]) == 0
        assert main(["search", "anything", "-n", "nb", "--mode", "lexical"]) == 0
        assert main(["notebook", "create", "other"]) == 1  # writers still wait their turn
    _out, err = capsys.readouterr()
    assert "Another notebooklm-local" in err


class SlowEmbedder:
    model_id = "test:slow-hash:v1"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        time.sleep(0.004 * len(texts))
        out = []
        for t in texts:
            v = [b / 255 - 0.5 for b in hashlib.sha256(t.encode()).digest()[:16]]
            n = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / n for x in v])
        return out


def _service(tmp_path: Path) -> LibraryService:
    paths = app_paths().ensure()
    index = ChromaIndex.persistent(paths.index / "chroma", SlowEmbedder())  # type: ignore[arg-type]
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                         index)
    lib.large_embed_s = 0.05
    return lib


def _long_doc(tmp_path: Path) -> str:
    f = tmp_path / "long.txt"
    f.write_text("\n\n".join(f"Paragraph {i}: " + "glaciers carve valleys and leave moraines behind. " * 12
                             for i in range(200)), encoding="utf-8")
    return str(f)


@pytest.mark.parametrize("choice", ["continue", "lexical", "cancel"])
def test_long_embedding_is_announced_up_front(tmp_path: Path, choice: str) -> None:
    lib = _service(tmp_path)
    nb = lib.create_notebook("nb")
    asked: list[tuple[int, float]] = []

    def confirm(src: object, chunks: int, seconds: float) -> str:
        asked.append((chunks, seconds))
        return choice

    lib.confirm_large = confirm
    report = lib.add("nb", [_long_doc(tmp_path)])
    (chunks, seconds) = asked[0]
    assert len(asked) == 1 and chunks > 50 and seconds > 0.05
    srcs = lib.library.sources(nb.id)
    if choice == "cancel":
        assert not srcs and "cancelled" in report.failed[0][1]
        return
    (src,) = srcs
    assert src.status == SourceStatus.READY
    unembedded = lib.library.count_unembedded(src.id, SlowEmbedder.model_id)
    assert (unembedded == 0) if choice == "continue" else (unembedded > 0)
    assert lib.search("nb", "glaciers moraines", mode="lexical")


def test_cli_prints_the_estimate_when_not_interactive(capsys: pytest.CaptureFixture[str]) -> None:
    ask = _confirm_large(SimpleNamespace(close=lambda: None))
    assert ask(SimpleNamespace(title="Big", display="Big"), 300_000, 4 * 3600) == "continue"
    err = capsys.readouterr().err
    assert "300,000 chunks" in err and "4.0 hours" in err and "--lexical-only" in err


@pytest.mark.parametrize(("answer", "adding", "choice"), [("l", True, "lexical"), ("x", True, "cancel"),
                                                          ("", True, "continue"), ("x", False, "continue")])
def test_cli_asks_on_a_terminal(answer: str, adding: bool, choice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    prompts: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda p="": prompts.append(p) or answer)
    ask = _confirm_large(SimpleNamespace(close=lambda: None), adding=adding)
    assert ask(SimpleNamespace(title="Big", display="Big"), 12_000, 900) == choice
    assert "12,000 chunks" in prompts[0] and "15 minutes" in prompts[0]
    assert ("cancel" in prompts[0]) == adding
