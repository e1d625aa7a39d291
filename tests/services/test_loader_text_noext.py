"""Files with no extension (README, NEWS, FAQ, INSTALL, LICENSE, ...) are added as plain text when their
content is text; a binary one is refused with a clear reason. One path for a single file, a folder and
the GUI (``expand_inputs`` with ``LibraryService.can_load_file``, then ``loader_for``)."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.library_service import LibraryService, expand_inputs
from notebooklm_local.services.loaders.text import SNIFF_BYTES, TextLoader, looks_like_text

README = "notebooklm-local\n================\n\nA desktop knowledge notebook.\n\nInstall it with pip.\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8


def service(home: Path) -> LibraryService:
    paths = app_paths(home).ensure()
    return LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items())


@pytest.mark.parametrize("data", [
    b"", README.encode(), "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve r\u00e9sum\u00e9.\n".encode("cp1252"),
    codecs.BOM_UTF16_LE + "Hello".encode("utf-16-le"), "Hello world, text.\n".encode("utf-16-le"),
    b"\x1b[31mERROR\x1b[0m build failed\n" * 20, b"Page one\n\f\nPage two\n",
    ("\u00e9" * SNIFF_BYTES).encode()[:SNIFF_BYTES - 1],  # the sample ends inside a character
])
def test_text_sniffs_as_text(data: bytes) -> None:
    assert looks_like_text(data)


@pytest.mark.parametrize("data", [ELF, b"PK\x03\x04\x14\x00\x00\x00", bytes(range(1, 32)) * 10, os.urandom(4096)])
def test_binary_does_not(data: bytes) -> None:
    assert not looks_like_text(data)


def test_loader_reads_an_extensionless_text_file(tmp_path: Path) -> None:
    (tmp_path / "README").write_text(README, encoding="utf-8")
    (tmp_path / "prog").write_bytes(ELF)
    ld = TextLoader()
    assert ld.can_load(SourceRef(path=tmp_path / "README"))
    assert not ld.can_load(SourceRef(path=tmp_path / "prog"))
    assert not ld.can_load(SourceRef(path=tmp_path / "missing"))
    assert not ld.can_load(SourceRef(path=tmp_path / "page.xyz"))
    doc = ld.load(SourceRef(path=tmp_path / "README"), CancelToken())
    assert doc.kind == "text" and doc.title == "README" and "Install it with pip." in doc.text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_an_extensionless_fifo_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "NEWS")
    assert not TextLoader().can_load(SourceRef(path=tmp_path / "NEWS"))  # returns (a read would block)


def test_single_file_and_folder_take_text_and_refuse_binary(tmp_path: Path) -> None:
    docs = tmp_path / "pkg"
    docs.mkdir()
    for name in ("README", "NEWS", "FAQ", "COPYING"):
        (docs / name).write_text(f"{name}\n\nPlain text that {name.lower()} holds for the reader.\n", encoding="utf-8")
    (docs / "prog").write_bytes(ELF)
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    svc = service(tmp_path / "home")
    refs, skipped = expand_inputs([str(docs)], svc.file_extensions, svc.can_load_file)
    assert sorted(r.path.name for r in refs if r.path) == ["COPYING", "FAQ", "NEWS", "README"]
    reasons = dict(skipped)
    assert reasons[str(docs / "prog")] == "unsupported file type (no extension, and not plain text)"
    assert reasons[str(docs / "photo.jpg")] == "unsupported file type '.jpg'"

    assert svc.loader_for(SourceRef(path=docs / "README")).name == "text"
    with pytest.raises(SourceLoadError, match=r"prog: unsupported file type \(no extension, and the content is not plain"):
        svc.loader_for(SourceRef(path=docs / "prog"))

    svc.create_notebook("Pkg")
    report = svc.add("Pkg", [str(docs / "README"), str(docs / "prog")])
    assert [s.title for s in report.added] == ["README"]
    reasons = dict(report.failed)
    assert "no extension" in reasons[str(docs / "prog")]
    folder = svc.add("Pkg", [str(docs)])
    assert len(folder.added) == 3 and len(folder.duplicates) == 1  # README was added above
    assert {p for p, _ in folder.skipped} == {str(docs / "prog"), str(docs / "photo.jpg")}
