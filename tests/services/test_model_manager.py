"""The model manager: GGUF metadata, known models, add/remove, and downloads from a local fake hub.

No test contacts the real network: downloads go to :class:`FakeHub` on 127.0.0.1, and a guard makes any
name lookup other than the loopback fail (and the test with it).
"""

from __future__ import annotations

import errno
import hashlib
import random
import socket
import struct
import time
from pathlib import Path

import pytest

from notebooklm_local.core.errors import Cancelled, ModelLoadError, NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services import model_manager as mm
from notebooklm_local.services.gguf import read_gguf_header
from notebooklm_local.services.model_manager import (
    CATALOG,
    DownloadError,
    ModelManager,
    catalog_entry,
    read_model_info,
)
from notebooklm_local.services.models import DEFAULT_EMBEDDER_NAME
from tests.helpers.fake_hub import FakeHub, guard_loopback_only
from tests.helpers.gguf_files import CHAT_TEMPLATE, write_gguf


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch):
    """No name lookup but the loopback; the test fails if one was tried."""
    blocked = guard_loopback_only(monkeypatch)
    yield blocked
    assert not blocked, f"tried to reach {blocked}"


@pytest.fixture
def hub():
    h = FakeHub(chunk=16 * 1024).start()
    yield h
    h.stop()


@pytest.fixture
def paths(app_home: Path) -> AppPaths:
    p = app_paths().ensure()
    for f in p.models.glob(DEFAULT_EMBEDDER_NAME + "*"):  # these tests list the models folder: start it empty
        f.unlink()
    return p


@pytest.fixture
def saves() -> list[list[str]]:
    return []


@pytest.fixture
def manager(paths: AppPaths, saves: list[list[str]]) -> ModelManager:
    m = ModelManager(paths, Settings(), save=lambda s: saves.append(list(s.model.extra_paths)))
    m.chunk_size = 64 * 1024
    return m


@pytest.fixture
def gguf_bytes(tmp_path: Path) -> bytes:
    return write_gguf(tmp_path / "src" / "tiny.gguf", data_bytes=1 << 20).read_bytes()


# ---- metadata --------------------------------------------------------------------------------------


def test_metadata_of_a_synthetic_chat_model(tmp_path: Path) -> None:
    p = write_gguf(tmp_path / "m.gguf", name="Tiny Chat", context_length=4096)
    info = read_model_info(p)
    assert (info.architecture, info.name, info.quantization, info.context_length) == ("llama", "Tiny Chat", "Q4_K_M", 4096)
    assert info.has_chat_template and info.chat_template == CHAT_TEMPLATE
    assert not info.is_embedding and info.kind == "chat"
    assert info.size == p.stat().st_size and info.parameters == (1 << 16) // 4 + 64


def test_metadata_of_an_embedding_model_and_quantization_fallback(tmp_path: Path) -> None:
    info = read_model_info(write_gguf(tmp_path / "e.gguf", arch="bert", embedding=True, chat_template=None,
                                      file_type=None))
    assert info.is_embedding and info.kind == "embedding" and not info.has_chat_template
    assert info.quantization == "F32"  # no general.file_type: named after the weight matrices' type


def test_metadata_of_the_real_embedded_model(tiny_model_path: Path) -> None:
    read_gguf_header(tiny_model_path)  # warm the page cache and the gguf import
    start = time.perf_counter()
    info = read_model_info(tiny_model_path)
    elapsed = time.perf_counter() - start
    assert info.architecture == "gemma3" and info.quantization == "Q4_K_M"
    assert info.context_length == 32768 and info.size_label == "270M" and info.name == "Gemma 3 270m"
    assert not info.has_chat_template and not info.is_embedding  # a base model: no template
    assert 260e6 < info.parameters < 280e6
    # gguf.GGUFReader needs ~15 s for this file (a numpy view per vocabulary entry); the header walk is ms.
    assert elapsed < 1.0, elapsed
    assert read_gguf_header(tiny_model_path).data_end == tiny_model_path.stat().st_size


@pytest.mark.parametrize("cut", [0, 3, 4, 12, 23, 24, 40, 5000, -50_000, -1])
def test_truncated_files_give_a_clear_error(tmp_path: Path, gguf_bytes: bytes, cut: int) -> None:
    p = tmp_path / "cut.gguf"
    p.write_bytes(gguf_bytes[:cut])
    with pytest.raises(ModelLoadError) as e:
        read_model_info(p)
    assert "cut.gguf" in str(e.value)
    assert ("truncated" in str(e.value)) or cut < 4  # shorter than the magic: "not a GGUF"/"truncated"


def test_non_gguf_and_absurd_headers(tmp_path: Path, gguf_bytes: bytes) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("definitely not a model\n" * 10)
    with pytest.raises(ModelLoadError, match="does not start with 'GGUF'"):
        read_model_info(text)
    huge = bytearray(gguf_bytes)
    struct.pack_into("<Q", huge, 8, 1 << 60)  # tensor count
    (tmp_path / "huge.gguf").write_bytes(huge)
    with pytest.raises(ModelLoadError, match="does not fit"):
        read_model_info(tmp_path / "huge.gguf")
    v9 = bytearray(gguf_bytes)
    struct.pack_into("<I", v9, 4, 9)
    (tmp_path / "v9.gguf").write_bytes(v9)
    with pytest.raises(ModelLoadError, match="version 9"):
        read_model_info(tmp_path / "v9.gguf")
    with pytest.raises(ModelLoadError, match="not found"):
        read_model_info(tmp_path / "missing.gguf")


def test_random_corruption_never_escapes_as_another_exception(tmp_path: Path, gguf_bytes: bytes) -> None:
    rng = random.Random(1234)
    header_end = 20_000  # metadata (1000-token vocabulary) and tensor infos
    p = tmp_path / "fuzz.gguf"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        data = bytearray(gguf_bytes)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(4, header_end)] = rng.randrange(256)
        p.write_bytes(data)
        try:
            read_model_info(p)
            outcomes["ok"] += 1
        except ModelLoadError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0 and sum(outcomes.values()) == 300


# ---- list / add / remove ---------------------------------------------------------------------------


def test_list_add_and_missing_files(tmp_path: Path, paths: AppPaths, manager: ModelManager,
                                    saves: list[list[str]]) -> None:
    write_gguf(paths.models / "local.gguf")
    elsewhere = write_gguf(tmp_path / "elsewhere" / "Other.gguf", arch="qwen2", context_length=32768)
    assert [i.file_name for i in manager.list()] == ["local.gguf"]

    info = manager.add(elsewhere)
    assert info.source == "added" and info.architecture == "qwen2" and info.context_length == 32768
    assert manager.settings.model.extra_paths == [str(elsewhere.resolve())] and saves == [[str(elsewhere.resolve())]]
    manager.add(elsewhere)  # no duplicate, nothing to save
    assert len(manager.settings.model.extra_paths) == 1 and len(saves) == 1
    assert manager.add(paths.models / "local.gguf").source == "data dir"  # already known: no record
    assert len(saves) == 1

    listed = {i.file_name: i for i in manager.list()}
    assert set(listed) == {"local.gguf", "Other.gguf"} and listed["Other.gguf"].source == "added"
    elsewhere.unlink()
    gone = {i.file_name: i for i in manager.list()}["Other.gguf"]
    assert gone.error == "file not found" and gone.architecture is None


def test_add_refuses_bad_files_and_leaves_settings_alone(tmp_path: Path, gguf_bytes: bytes,
                                                         manager: ModelManager, saves: list[list[str]]) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "half.gguf").write_bytes(gguf_bytes[: len(gguf_bytes) // 2])
    lora = write_gguf(tmp_path / "lora.gguf", model_type="adapter")
    cases = {tmp_path / "readme.txt": "not a GGUF model", tmp_path / "half.gguf": "truncated",
             tmp_path / "nope.gguf": "not found", tmp_path: "not a file", lora: "LoRA adapter"}
    for path, message in cases.items():
        with pytest.raises(ModelLoadError, match=message):
            manager.add(path)
    assert manager.settings.model.extra_paths == [] and saves == []


def test_remove_forgets_deletes_and_guards_the_models_in_use(tmp_path: Path, paths: AppPaths,
                                                             manager: ModelManager) -> None:
    local = write_gguf(paths.models / "local.gguf")
    (paths.models / ".local.gguf.abc.part").write_bytes(b"partial")
    added = manager.add(write_gguf(tmp_path / "x" / "added.gguf")).path

    r = manager.remove("added")
    assert r.forgot and not r.deleted and added.exists() and manager.settings.model.extra_paths == []
    assert "the file is kept" in r.message()
    manager.add(added)
    r = manager.remove(str(added), delete_file=True)
    assert r.forgot and r.deleted and not added.exists()

    manager.settings.model.embedding_path = str(local)
    with pytest.raises(NotebookError, match="embedding model in the settings"):
        manager.remove("local.gguf")
    assert local.exists()
    r = manager.remove("local.gguf", force=True)
    assert r.deleted and r.cleared == ("embedding",) and manager.settings.model.embedding_path == ""
    assert not local.exists() and not list(paths.models.glob(".local.gguf.*"))
    with pytest.raises(NotebookError, match="No model 'local.gguf'"):
        manager.remove("local.gguf")


def test_default_model_is_listed_as_such_and_may_be_deleted(paths: AppPaths, manager: ModelManager) -> None:
    default = write_gguf(paths.models / "gemma-3-270m-q4_k_m.gguf", arch="gemma3")
    (info,) = manager.list()
    assert info.default and info.source == "default" and info.in_use == ("chat",)  # MiniLM embeds by default
    r = manager.remove("gemma-3-270m-q4_k_m")
    assert r.deleted and not default.exists() and "assembled again" in r.message()


# ---- downloads -------------------------------------------------------------------------------------


def test_download_with_progress_lands_as_a_plain_file(hub: FakeHub, paths: AppPaths, manager: ModelManager,
                                                      gguf_bytes: bytes) -> None:
    hub.add("someone/tiny-GGUF", "sub/tiny-Q4_K_M.gguf", gguf_bytes)
    events: list[tuple[int, int, str]] = []
    info = manager.download("someone/tiny-GGUF", "sub/tiny-Q4_K_M.gguf", endpoint=hub.url,
                            progress=lambda d, t, m="": events.append((d, t, m)))
    dest = paths.models / "tiny-Q4_K_M.gguf"
    assert info.path == dest.resolve() and info.quantization == "Q4_K_M" and info.architecture == "llama"
    assert dest.is_file() and not dest.is_symlink() and dest.read_bytes() == gguf_bytes
    assert [p.name for p in paths.models.iterdir()] == ["tiny-Q4_K_M.gguf"]
    done = [d for d, _, _ in events]
    assert done == sorted(done) and done[-1] == len(gguf_bytes) and len(events) > 10
    assert {t for _, t, _ in events} == {len(gguf_bytes)}
    assert "verifying" in events[-1][2]
    head, get = hub.requests
    assert head.method == "HEAD" and head.path == "/someone/tiny-GGUF/resolve/main/sub/tiny-Q4_K_M.gguf"
    assert get.method == "GET" and get.path.startswith("/cdn/") and get.range is None
    # downloading it again is a no-op (same sha256): no second GET
    assert manager.download("someone/tiny-GGUF", "sub/tiny-Q4_K_M.gguf", endpoint=hub.url).path == dest.resolve()
    assert len(hub.gets()) == 1


def test_xet_backed_files_download_over_plain_http(hub: FakeHub, manager: ModelManager, gguf_bytes: bytes) -> None:
    hub.add("o/xet", "m.gguf", gguf_bytes, xet=True)
    info = manager.download("o/xet", "m.gguf", endpoint=hub.url)
    assert info.path.read_bytes() == gguf_bytes
    seen = [(r.method, "cdn" if r.path.startswith("/cdn/") else "resolve") for r in hub.requests]
    assert seen == [("HEAD", "resolve"), ("GET", "resolve"), ("GET", "cdn")]  # the redirect was followed


def test_no_request_goes_to_the_real_hub(hub: FakeHub, manager: ModelManager, gguf_bytes: bytes, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]) -> None:
    """huggingface_hub's user agent fetches an "agent harness" list from huggingface.co unless telemetry is off."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _detect_agent

    # as in a process that imported huggingface_hub without HF_ENDPOINT set
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        "https://huggingface.co/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", False)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "harnesses.json"))
    monkeypatch.setattr(_detect_agent, "_registry", None)
    hub.add("o/r", "m.gguf", gguf_bytes)
    manager.download("o/r", "m.gguf", endpoint=hub.url)
    assert loopback_only == [] and {r.method for r in hub.requests} == {"HEAD", "GET"}


def test_cancel_keeps_the_partial_file_and_the_next_download_resumes(hub: FakeHub, paths: AppPaths,
                                                                     manager: ModelManager, gguf_bytes: bytes) -> None:
    hub.add("o/r", "m.gguf", gguf_bytes)
    hub.delay = 0.001  # a slow network
    token = CancelToken()

    def cancel_at_a_third(done: int, total: int, message: str = "") -> None:
        if done >= total // 3:
            token.cancel()

    with pytest.raises(Cancelled):
        manager.download("o/r", "m.gguf", endpoint=hub.url, progress=cancel_at_a_third, cancel=token)
    (part,) = paths.models.glob(".m.gguf.*.part")
    have = part.stat().st_size
    assert len(gguf_bytes) // 3 <= have < len(gguf_bytes) and not (paths.models / "m.gguf").exists()
    assert gguf_bytes.startswith(part.read_bytes())

    events: list[int] = []
    info = manager.download("o/r", "m.gguf", endpoint=hub.url, progress=lambda d, t, m="": events.append(d))
    assert hub.gets()[-1].range == f"bytes={have}-"
    assert events[0] == have and events[-1] == len(gguf_bytes) and events == sorted(events)
    assert info.path.read_bytes() == gguf_bytes and not part.exists()


def test_checksum_mismatch_deletes_the_download(hub: FakeHub, paths: AppPaths, manager: ModelManager,
                                                gguf_bytes: bytes) -> None:
    hub.add("o/r", "m.gguf", gguf_bytes, sha256="0" * 64)
    with pytest.raises(DownloadError, match="corrupt .*sha256"):
        manager.download("o/r", "m.gguf", endpoint=hub.url)
    assert list(paths.models.iterdir()) == []


def test_a_remote_file_that_is_not_a_gguf_is_not_kept(hub: FakeHub, paths: AppPaths, manager: ModelManager) -> None:
    hub.add("o/r", "page.gguf", b"<html>Sign in to continue</html>" * 100)
    with pytest.raises(DownloadError, match="not a usable GGUF model"):
        manager.download("o/r", "page.gguf", endpoint=hub.url)
    assert not list(paths.models.glob("*page*"))


@pytest.mark.parametrize(("repo", "filename", "setup", "message"), [
    ("nobody/nothing", "x.gguf", None, "No repository nobody/nothing on http://127.0.0.1"),
    ("o/r", "missing.gguf", None, "o/r has no file named missing.gguf"),
    ("meta/gated", "g.gguf", {"gated": True}, "gated model: accept its licence .* HF_TOKEN"),
    ("o/busy", "b.gguf", {"fail": 503}, "answered HTTP 503"),
    ("o/private", "p.gguf", {"fail": 403}, "refused access .*HTTP 403.*HF_TOKEN"),
])
def test_hub_errors_are_clear(hub: FakeHub, manager: ModelManager, gguf_bytes: bytes, repo: str, filename: str,
                              setup: dict | None, message: str) -> None:
    hub.add("o/r", "m.gguf", gguf_bytes)
    if setup is not None:
        hub.add(repo, filename, gguf_bytes, **setup)
    with pytest.raises(DownloadError, match=message):
        manager.download(repo, filename, endpoint=hub.url)


def test_unreachable_hub_and_offline_mode(monkeypatch: pytest.MonkeyPatch, manager: ModelManager) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DownloadError, match=f"Cannot reach http://127.0.0.1:{port}"):
        manager.download("o/r", "m.gguf", endpoint=f"http://127.0.0.1:{port}")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        manager.download("o/r", "m.gguf", endpoint=f"http://127.0.0.1:{port}")


def test_disk_space_name_clash_and_bad_names(hub: FakeHub, paths: AppPaths, manager: ModelManager,
                                             gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add("o/r", "m.gguf", gguf_bytes)
    (paths.models / "m.gguf").write_bytes(b"GGUF something else")
    with pytest.raises(DownloadError, match="exists and is not o/r/m.gguf"):
        manager.download("o/r", "m.gguf", endpoint=hub.url)
    (paths.models / "m.gguf").unlink()
    from filelock import FileLock

    with FileLock(str(paths.cache / "downloads" / "m.gguf.lock")):  # another process is downloading it
        with pytest.raises(DownloadError, match="already being downloaded"):
            manager.download("o/r", "m.gguf", endpoint=hub.url)
    monkeypatch.setattr(mm.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(DownloadError, match="Not enough disk space"):
        manager.download("o/r", "m.gguf", endpoint=hub.url)
    for repo, name, message in [("o/r", "weights.bin", "not a GGUF file name"),
                                ("o/r", "big-00001-of-00003.gguf", "split GGUF"),
                                ("o/r", None, "Give the GGUF file"),
                                ("no-such-model", None, "not in the catalog"),
                                ("not a repo!", "m.gguf", "not a Hugging Face repository id")]:
        with pytest.raises(DownloadError, match=message):
            manager.download(repo, name, endpoint=hub.url)
    full = mm._download_error(OSError(errno.ENOSPC, "No space left on device"), "o/r", "m.gguf", hub.url, paths.models)
    assert "disk is full" in str(full) and "resume" in str(full)


def test_catalog_download_and_endpoint_choice(hub: FakeHub, manager: ModelManager, gguf_bytes: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    entry = catalog_entry("All-MiniLM-L6-v2")
    assert entry is not None and entry.kind == "embedding"
    hub.add(entry.repo_id, entry.filename, gguf_bytes)
    manager.settings.model.hub_endpoint = hub.url + "/"
    info = manager.download("all-minilm-l6-v2")
    assert info.file_name == entry.filename and hashlib.sha256(info.path.read_bytes()).hexdigest() == \
        hashlib.sha256(gguf_bytes).hexdigest()
    assert manager.find("all-minilm-l6-v2").path == info.path  # catalog names find downloaded files
    manager.settings.model.hub_endpoint = ""
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.invalid")
    assert manager.endpoint() == "http://mirror.invalid" and manager.endpoint("http://x/") == "http://x"
    monkeypatch.delenv("HF_ENDPOINT")
    assert manager.endpoint() == "https://huggingface.co"


def test_catalog_is_well_formed() -> None:
    names = [e.name for e in CATALOG]
    assert len(names) == len(set(names))
    assert {e.kind for e in CATALOG} == {"chat", "embedding"}
    assert any(e.multilingual and e.kind == "chat" for e in CATALOG)
    assert any(e.multilingual and e.kind == "embedding" for e in CATALOG)
    for e in CATALOG:
        assert e.filename.endswith(".gguf") and e.repo_id.count("/") == 1 and e.size_mb > 0 and e.description
        assert catalog_entry(e.name.upper()) == e


def test_connection_errors_are_said_in_words_not_errno_codes() -> None:
    from notebooklm_local.services.model_manager import _connect_reason

    assert "could not be resolved" in _connect_reason(OSError("[Errno -2] Name or service not known"))
    assert "refused" in _connect_reason(OSError("[Errno 111] Connection refused"))
    assert "Errno" not in _connect_reason(OSError("[Errno 113] No route to host"))


def test_doctor_and_the_model_manager_list_the_same_models(paths: AppPaths, tmp_path: Path) -> None:
    """One discovery rule (services.models.model_candidates): a hidden partial download is skipped by
    both, a file added from elsewhere is listed by both."""
    from notebooklm_local.services.models import find_models

    write_gguf(paths.models / "a.gguf")
    write_gguf(paths.models / ".b.gguf.abc.part")
    elsewhere = write_gguf(tmp_path / "elsewhere.gguf") or tmp_path / "elsewhere.gguf"
    settings = Settings()
    settings.model.extra_paths = [str(elsewhere)]
    listed = [m.path for m in ModelManager(paths, settings).list()]
    found = [m.path for m in find_models(paths, settings)]
    assert listed == found == [(paths.models / "a.gguf").resolve(), elsewhere.resolve()]
