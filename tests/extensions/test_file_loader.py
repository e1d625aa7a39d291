"""FileLoader: the plugin API's base for loaders of one kind of file (the example in docs/plugins.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.errors import Cancelled, SourceLoadError
from notebooklm_local.extensions.api import Block, CancelToken, FileLoader, LoadedDocument, SourceRef


class NoteLoader(FileLoader):
    name = "note"
    extensions = (".note",)
    max_bytes = 1_000

    def parse(self, data: bytes, filename: str, cancel: CancelToken) -> LoadedDocument:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceLoadError(f"{filename} is not UTF-8 text ({e}).") from None
        return LoadedDocument.from_blocks("note", filename, [Block(text, "paragraph")])


def test_reads_parses_and_matches_by_extension(tmp_path: Path) -> None:
    p = tmp_path / "Trip.NOTE"
    p.write_text("Pack the couchette sheets.", encoding="utf-8")
    loader = NoteLoader()
    assert loader.can_load(SourceRef(path=p)) and not loader.can_load(SourceRef(path=tmp_path / "a.txt"))
    assert not loader.can_load(SourceRef(url="https://example.com/a.note"))
    doc = loader.load(SourceRef(path=p), CancelToken())
    assert "couchette" in doc.text and doc.kind == "note"


@pytest.mark.parametrize("case", ["missing", "huge", "binary", "folder"])
def test_bad_files_give_clear_errors(tmp_path: Path, case: str) -> None:
    p = tmp_path / "x.note"
    if case == "huge":
        p.write_bytes(b"a" * 5_000)
    elif case == "binary":
        p.write_bytes(b"\xff\xfe\x00bad")
    elif case == "folder":
        p.mkdir()
    with pytest.raises(SourceLoadError) as e:
        NoteLoader().load(SourceRef(path=p), CancelToken())
    assert "x.note" in str(e.value)


def test_a_cancelled_token_stops_before_parsing(tmp_path: Path) -> None:
    p = tmp_path / "x.note"
    p.write_text("text", encoding="utf-8")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        NoteLoader().load(SourceRef(path=p), token)
