"""Nothing hangs: FIFOs are refused, downloads have a deadline and a minimum rate, resume never blocks on one source."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library, SourceStatus
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.loaders.files import read_file_bytes
from notebooklm_local.services.loaders.web import WebLoader
from tests.reliability.helpers import bounded, drip_server

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")


def lexical_service(extra_loaders: list[object] | None = None) -> LibraryService:
    paths = app_paths().ensure()
    loaders = list(extra_loaders or []) + list(builtin_registry().source_loaders.items())
    return LibraryService(paths.data, Library(paths.data / "library.db"), loaders, None)  # type: ignore[arg-type]


@needs_fifo
def test_a_fifo_named_txt_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)  # nobody ever writes: opening it for reading would block forever
    with pytest.raises(SourceLoadError, match="named pipe"):
        bounded(lambda: read_file_bytes(fifo), 5)


@needs_fifo
def test_add_refuses_a_fifo_and_adds_the_rest(tmp_path: Path) -> None:
    fifo = tmp_path / "stuck.txt"
    os.mkfifo(fifo)
    (tmp_path / "fine.txt").write_text("Glaciers carve valleys over thousands of years.", encoding="utf-8")
    lib = lexical_service()
    lib.create_notebook("nb")
    report, elapsed = bounded(lambda: lib.add("nb", [str(fifo), str(tmp_path / "fine.txt")]), 10)
    assert [s.title for s in report.added] == ["fine"]
    assert len(report.failed) == 1 and "named pipe" in report.failed[0][1]
    failed = [s for s in lib.sources("nb") if s.status == SourceStatus.FAILED]
    assert len(failed) == 1 and "named pipe" in (failed[0].error or "")
    assert failed[0].title == "stuck.txt"  # a source failing before extraction still has a name
    assert elapsed < 5


@needs_fifo
def test_resume_does_not_block_on_a_queued_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "stuck.txt"
    os.mkfifo(fifo)
    (tmp_path / "later.txt").write_text("Basalt forms when lava cools quickly.", encoding="utf-8")
    lib = lexical_service()
    nb = lib.create_notebook("nb")
    # as a crash leaves them: queued, the FIFO first
    lib.library.add_source(nb.id, {"path": str(fifo)})
    later = lib.library.add_source(nb.id, {"path": str(tmp_path / "later.txt")})
    messages, _ = bounded(lib.resume, 10)
    assert any(m.startswith("failed:") and "named pipe" in m for m in messages), messages
    assert lib.library.source(later.id).status == SourceStatus.READY


class StuckLoader:
    """A plugin-like loader that never returns (and ignores its cancel token until the test ends)."""

    name = "stuck"
    extensions = (".stuck",)

    def __init__(self) -> None:
        self.release = threading.Event()

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix == ".stuck"

    def load(self, ref: SourceRef, cancel: CancelToken) -> object:
        self.release.wait(30)
        raise SourceLoadError("released")


def test_resume_bounds_each_source_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.stuck").write_text("x", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Kepler's third law relates period and distance.", encoding="utf-8")
    stuck = StuckLoader()
    lib = lexical_service([stuck])
    lib.load_timeout_s = 0.5
    nb = lib.create_notebook("nb")
    first = lib.library.add_source(nb.id, {"path": str(tmp_path / "a.stuck")})
    second = lib.library.add_source(nb.id, {"path": str(tmp_path / "b.txt")})
    try:
        messages, elapsed = bounded(lib.resume, 10)
    finally:
        stuck.release.set()
    assert elapsed < 5
    failed = lib.library.source(first.id)
    assert failed.status == SourceStatus.FAILED and "took longer than 0.5 seconds" in (failed.error or "")
    assert lib.library.source(second.id).status == SourceStatus.READY
    assert any("took longer" in m for m in messages)


def test_a_dripping_server_hits_the_overall_deadline() -> None:
    with drip_server(body_byte_every_s=0.05) as url:
        loader = WebLoader(deadline_s=1.0, rate_grace_s=1000)
        with pytest.raises(SourceLoadError, match=r"did not finish within 1 seconds"):
            _, elapsed = bounded(lambda: loader.load(SourceRef(url=url), CancelToken()), 8)


def test_a_dripping_server_is_stopped_below_the_minimum_rate() -> None:
    with drip_server(body_byte_every_s=0.05) as url:
        loader = WebLoader(deadline_s=60, rate_grace_s=0.5, min_rate_bps=1000)
        box: dict[str, float] = {}

        def load() -> None:
            import time

            t0 = time.monotonic()
            try:
                loader.load(SourceRef(url=url), CancelToken())
            finally:
                box["elapsed"] = time.monotonic() - t0

        with pytest.raises(SourceLoadError, match="too slowly"):
            bounded(load, 8)
        assert box["elapsed"] < 3


def test_silence_after_the_first_byte_is_bounded_by_the_deadline() -> None:
    with drip_server(body_byte_every_s=20) as url:  # one byte, then nothing for 20 s (the per-read timeout)
        loader = WebLoader(timeout=20, deadline_s=1.0, rate_grace_s=1000)
        with pytest.raises(SourceLoadError, match="within 1 seconds"):
            _, elapsed = bounded(lambda: loader.load(SourceRef(url=url), CancelToken()), 8)


def test_a_model_download_below_the_minimum_rate_stops_and_can_resume(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.core.settings import Settings
    from notebooklm_local.services.model_manager import DownloadError, ModelManager
    from tests.helpers.fake_hub import FakeHub, guard_loopback_only
    from tests.helpers.gguf_files import write_gguf

    blocked = guard_loopback_only(monkeypatch)
    data = write_gguf(tmp_path / "tiny.gguf", data_bytes=1 << 16).read_bytes()
    hub = FakeHub(chunk=64).start()  # 64 bytes every 50 ms: about 1.3 KB/s, for ever
    hub.delay = 0.05
    try:
        hub.add("o/r", "m.gguf", data)
        paths = app_paths().ensure()
        manager = ModelManager(paths, Settings(), save=lambda s: None)
        manager.min_rate_bps, manager.rate_window_s = 10_000, 0.3
        with pytest.raises(DownloadError, match="too slow"):
            _, elapsed = bounded(lambda: manager.download("o/r", "m.gguf", endpoint=hub.url), 10)
        assert list(paths.models.glob(".m.gguf.*.part")), "the partial file is kept for resuming"
        assert not blocked
    finally:
        hub.stop()


def test_dripping_headers_hit_the_overall_deadline_too() -> None:
    with drip_server(drip_headers=True, body_byte_every_s=0.05) as url:
        loader = WebLoader(timeout=20, deadline_s=1.0, rate_grace_s=1000)
        with pytest.raises(SourceLoadError, match="within 1 seconds"):
            _, elapsed = bounded(lambda: loader.load(SourceRef(url=url), CancelToken()), 8)


@needs_fifo
def test_a_fifo_inside_an_added_folder_is_skipped_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")
    (folder / "real.txt").write_text("Deltas grow where rivers meet the sea.", encoding="utf-8")
    lib = lexical_service()
    lib.create_notebook("nb")
    report, _ = bounded(lambda: lib.add("nb", [str(folder)]), 10)
    assert [s.title for s in report.added] == ["real"]
    assert report.skipped == [(str(folder / "pipe.txt"), "not a regular file")]
