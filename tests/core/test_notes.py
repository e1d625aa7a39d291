"""Notes in the library database: CRUD, tags, id prefixes, limits (a real SQLite file; no model)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from notebooklm_local.core import notes as notes_mod
from notebooklm_local.core.citations import Citation
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library
from notebooklm_local.core.notes import (
    MAX_BODY_BYTES,
    MAX_TITLE_CHARS,
    Note,
    NoteStore,
    derive_title,
    normalize_tag,
    normalize_tags,
)

CITE = {"passage_id": 1, "chunk_id": 7, "source_id": "s1", "source_title": "Caf\u00e9 \u201cnotes\u201d", "page": 3,
        "t_start": None, "start": 10, "end": 42, "quote": "Prune roses in late winter.", "location": "p. 3",
        "url": None}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> itertools.count:
    ticks = itertools.count(1_000_000)
    monkeypatch.setattr(notes_mod, "time", SimpleNamespace(time=lambda: float(next(ticks))))
    return ticks


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    library = Library(tmp_path / "library.db")
    yield library
    library.close()


@pytest.fixture
def store(lib: Library, clock: itertools.count) -> NoteStore:
    return NoteStore(lib)


@pytest.fixture
def nb(lib: Library) -> str:
    return lib.create_notebook("Garden").id


def test_add_get_list_update_delete_round_trip(store: NoteStore, nb: str) -> None:
    n = store.add(nb, "Roses", "Prune in late winter [1].", citations=[CITE], tags=["garden"], origin_kind="chat",
                  origin_id="msg-42")
    assert isinstance(n, Note) and len(n.id) == 32
    got = store.get(n.id)
    assert got == n
    assert got.citations == [CITE] and got.origin_kind == "chat" and got.origin_id == "msg-42"
    assert got.created == got.updated

    second = store.add(nb, "Soil", "Clay holds water.")
    assert [x.title for x in store.list(nb)] == ["Soil", "Roses"]  # most recently updated first

    changed = store.update(n.id, body="Prune in late winter, above a bud [1].")
    assert changed.updated > changed.created and changed.title == "Roses"
    assert store.get(n.id).body.endswith("bud [1].")
    assert [x.title for x in store.list(nb)] == ["Roses", "Soil"]
    assert store.update(n.id, title="Rose care").title == "Rose care"
    assert store.get(n.id).citations == [CITE]  # unchanged when not given

    deleted = store.delete(n.id[:8])
    assert deleted.id == n.id
    assert [x.id for x in store.list(nb)] == [second.id]
    with pytest.raises(NotebookError, match="No note"):
        store.get(n.id)
    assert store.count(nb) == 1


def test_citation_objects_are_stored_as_their_json(store: NoteStore, nb: str) -> None:
    c = Citation(2, 9, "s", "Video", None, 754.5, 0, 5, "hello", "12:34", "https://youtu.be/x")
    n = store.add(nb, "", "Said hello [2].", citations=[c])
    assert store.get(n.id).citations == [c.to_json()]
    with pytest.raises(NotebookError, match="citations"):
        store.add(nb, "x", "y", citations=["not a dict"])
    with pytest.raises(NotebookError, match="JSON"):
        store.add(nb, "x", "y", citations=[{"passage_id": 1, "bad": object()}])


def test_empty_title_is_derived_from_the_first_line(store: NoteStore, nb: str) -> None:
    assert store.add(nb, "", "\n\n## Pruning *roses* [1]\nmore").title == "Pruning roses"
    assert store.add(nb, "   ", "- first `item` [2, 3]").title == "first item"
    assert store.add(nb, "", "See [the guide](http://x) on snake_case").title == "See the guide on snake_case"
    long = store.add(nb, "", "word " * 100)
    assert len(long.title) <= 80 and long.title.endswith("\u2026")
    assert store.add(nb, "Title only", "").body == ""
    with pytest.raises(NotebookError, match="title or some text"):
        store.add(nb, " ", " \n ")
    n = store.add(nb, "Explicit", "Body line")
    assert store.update(n.id, title="").title == "Body line"
    assert derive_title("---\n\n```\n") == "Untitled note"
    assert derive_title("```python\nprint(1)\n```") == "print(1)"


def test_titles_are_one_line_and_limited(store: NoteStore, nb: str) -> None:
    assert store.add(nb, "  two\nlines\t here ", "x").title == "two lines here"
    assert len(store.add(nb, "t" * MAX_TITLE_CHARS, "x").title) == MAX_TITLE_CHARS
    with pytest.raises(NotebookError, match=f"limited to {MAX_TITLE_CHARS} characters"):
        store.add(nb, "t" * (MAX_TITLE_CHARS + 1), "x")


def test_body_size_limit(store: NoteStore, nb: str) -> None:
    ok = store.add(nb, "big", "a" * MAX_BODY_BYTES)
    assert len(store.get(ok.id).body) == MAX_BODY_BYTES
    with pytest.raises(NotebookError, match=r"limited to 5 MB"):
        store.add(nb, "too big", "\u00e9" * (MAX_BODY_BYTES // 2 + 1))  # 2 bytes each in UTF-8
    with pytest.raises(NotebookError, match="5 MB"):
        store.update(ok.id, body="a" * (MAX_BODY_BYTES + 1))
    assert store.get(ok.id).body == "a" * MAX_BODY_BYTES


def test_text_that_sqlite_cannot_take_is_cleaned(store: NoteStore, nb: str) -> None:
    n = store.add(nb, "odd\x00", "lone \ud800 surrogate\r\nand CR\rend")
    got = store.get(n.id)
    assert got.title == "odd"
    assert got.body == "lone \ufffd surrogate\nand CR\nend"


def test_tags_are_normalised_and_deduplicated() -> None:
    assert normalize_tag("  #Spring  time ") == "Spring-time"
    assert normalize_tag("##") == ""
    assert normalize_tag("a, b") == "a-b"
    assert normalize_tag("caf\u0065\u0301") == "caf\u00e9"  # NFC
    assert normalize_tags(["Roses", "#roses", " ROSES ", "", "#", "to do", "To-Do"]) == ["Roses", "to-do"]
    assert normalize_tags("single") == ["single"]
    with pytest.raises(NotebookError, match="Tags are limited"):
        normalize_tag("x" * 65)
    with pytest.raises(NotebookError, match="at most 50 tags"):
        normalize_tags([f"t{i}" for i in range(51)])


def test_add_and_remove_tags(store: NoteStore, nb: str) -> None:
    n = store.add(nb, "Roses", "x", tags=["#Garden", "garden", "spring time"])
    assert n.tags == ["Garden", "spring-time"]
    assert store.add_tags(n.id, ["GARDEN", "new one"]).tags == ["Garden", "spring-time", "new-one"]
    assert store.add_tags(n.id, "solo").tags[-1] == "solo"
    assert store.remove_tags(n.id, ["#Spring Time", "missing"]).tags == ["Garden", "new-one", "solo"]
    assert store.update(n.id, tags=[]).tags == []


def test_list_filters_by_tag_and_query(store: NoteStore, nb: str, lib: Library) -> None:
    a = store.add(nb, "Roses", "Prune in late WINTER.", tags=["Garden"])
    b = store.add(nb, "Tomatoes", "Water at the base.", tags=["garden", "veg"])
    c = store.add(nb, "Caf\u00e9 list", "Buy beans.")
    other = lib.create_notebook("Other").id
    store.add(other, "Roses elsewhere", "winter", tags=["garden"])
    assert {n.id for n in store.list(nb, tag="#GARDEN")} == {a.id, b.id}
    assert [n.id for n in store.list(nb, tag="veg")] == [b.id]
    assert store.list(nb, tag="nothing") == []
    assert [n.id for n in store.list(nb, query="winter prune")] == [a.id]
    assert store.list(nb, query="winter tomatoes") == []  # every word must occur
    assert [n.id for n in store.list(nb, query="veg")] == [b.id]  # tags are searched too
    assert [n.id for n in store.list(nb, query="CAFE\u0301")] == [c.id]  # NFC, case-insensitive
    assert len(store.list(nb, query="  ")) == 3
    assert [n.id for n in store.list(nb, tag="garden", query="water")] == [b.id]
    assert store.tags(nb) == {"garden": 2, "veg": 1}  # spelled as in the most recent note


def test_ids_resolve_by_unique_prefix(store: NoteStore, nb: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["abcdef01" + "0" * 24, "abcdef02" + "0" * 24, "123456ff" + "0" * 24])
    monkeypatch.setattr(notes_mod.uuid, "uuid4", lambda: SimpleNamespace(hex=next(ids)))
    a, b, c = (store.add(nb, t, "x") for t in "abc")
    assert store.get("abcdef01").id == a.id
    assert store.get("ABCDEF02").id == b.id
    assert store.get("123456").id == c.id
    assert store.get(f"  {c.id}  ").id == c.id
    with pytest.raises(NotebookError, match="matches 2 notes"):
        store.get("abcdef")
    with pytest.raises(NotebookError, match="at least 6 characters"):
        store.get("abcde")
    for bad in ("zzzzzz", "abcdef%", "abcdef_1", "abcdef03"):
        with pytest.raises(NotebookError, match="No note"):
            store.get(bad)
    monkeypatch.setattr(notes_mod.uuid, "uuid4", uuid.uuid4)


def test_get_can_be_scoped_to_a_notebook(store: NoteStore, nb: str, lib: Library) -> None:
    n = store.add(nb, "Roses", "x")
    other = lib.create_notebook("Other").id
    assert store.get(n.id[:6], notebook_id=nb).id == n.id
    with pytest.raises(NotebookError, match="No note"):
        store.get(n.id, notebook_id=other)
    with pytest.raises(NotebookError, match="No note"):
        store.get(n.id[:6], notebook_id=other)


def test_unknown_notebook_and_bad_origin_are_clear_errors(store: NoteStore, nb: str) -> None:
    with pytest.raises(NotebookError, match="No notebook"):
        store.add("nope", "t", "x")
    with pytest.raises(NotebookError, match="Invalid note origin"):
        store.add(nb, "t", "x", origin_kind="Not valid!")
    for kind in ("manual", "chat", "summary", "cod", "podcast", "plugin_x"):
        assert store.add(nb, "t", "x", origin_kind=kind).origin_kind == kind


def test_deleting_a_notebook_deletes_its_notes(store: NoteStore, nb: str, lib: Library) -> None:
    n = store.add(nb, "Roses", "x")
    lib.delete_notebook(nb)
    with pytest.raises(NotebookError):
        store.get(n.id)
    assert store.list(nb) == []


def test_a_quotes_answer_becomes_a_list_of_quotations_and_a_written_one_stays_prose() -> None:
    from notebooklm_local.core.citations import AnswerSentence, CitedAnswer
    from notebooklm_local.core.notes import answer_note_body

    quotes = CitedAnswer("Prune in late winter [1] The rule of thumb [2] is in note [3] [2]", [
        AnswerSentence("Prune in late winter [1]", [1], supported=True),
        AnswerSentence("The rule of thumb [2] is in note [3] [2]", [2], supported=True),  # the source's own "[2]"
    ], [])
    assert answer_note_body(quotes, "quotes") == (
        "- \u201cPrune in late winter\u201d [1]\n- \u201cThe rule of thumb [2] is in note [3]\u201d [2]")
    assert answer_note_body(quotes, "generate") == quotes.text
    nothing = CitedAnswer("The sources do not say.", [AnswerSentence("The sources do not say.", supported=True)], [],
                          not_found=True)
    assert answer_note_body(nothing, "quotes") == "The sources do not say."
