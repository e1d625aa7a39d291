"""Chat sessions and messages in the library database (a real SQLite file; no model)."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from notebooklm_local.core import chat_store as chat_store_mod
from notebooklm_local.core.chat_store import ChatRecord, ChatSession, ChatStore
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.library import Library


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> itertools.count:
    """A strictly increasing clock for the store (ordering by time without sleeping)."""
    ticks = itertools.count(1_000_000)
    monkeypatch.setattr(chat_store_mod, "time", SimpleNamespace(time=lambda: float(next(ticks))))
    return ticks


@pytest.fixture
def lib(tmp_path: Path):
    library = Library(tmp_path / "library.db")
    yield library
    library.close()


@pytest.fixture
def store(lib: Library, clock: itertools.count) -> ChatStore:
    return ChatStore(lib)


PAYLOAD = {
    "citations": [{"passage_id": 1, "source_title": "Caf\u00e9 notes \u201cv2\u201d", "start": 10, "end": 42,
                   "quote": "Paris is the capital of France.", "page": None, "t_start": 95.5}],
    "flags": ["Removed citation [7]: no passage has that id."],
    "not_found": False,
    "timings": {"total_s": 1.25, "first_token_s": 0.1},
    "nested": {"list": [1, 2.5, None, True, "\u6771\u4eac"]},
}


def test_sessions_belong_to_their_notebook(lib: Library, store: ChatStore) -> None:
    a = lib.create_notebook("A")
    b = lib.create_notebook("B")
    s1 = store.create_session(a.id)
    s2 = store.create_session(a.id, "Second")
    s3 = store.create_session(b.id)
    assert {s.id for s in store.sessions(a.id)} == {s1.id, s2.id}
    assert [s.id for s in store.sessions(b.id)] == [s3.id]
    assert store.sessions("no-such-notebook") == []
    assert store.session(s2.id) == s2
    assert s2.title == "Second" and s1.title == ""
    assert s1.notebook_id == a.id and s1.created == s1.updated
    assert len({s1.id, s2.id, s3.id}) == 3


def test_sessions_are_ordered_most_recently_used_first(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    old = store.create_session(nb.id)
    new = store.create_session(nb.id)
    assert [s.id for s in store.sessions(nb.id)] == [new.id, old.id]
    assert store.latest_session(nb.id).id == new.id  # type: ignore[union-attr]
    store.add_message(old.id, "user", "Back to the old chat")
    assert [s.id for s in store.sessions(nb.id)] == [old.id, new.id]
    assert store.latest_session(nb.id).id == old.id  # type: ignore[union-attr]
    assert store.session(old.id).updated > store.session(old.id).created
    assert store.latest_session(lib.create_notebook("Empty").id) is None


def test_title_comes_from_the_first_question(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    s = store.create_session(nb.id)
    store.add_message(s.id, "assistant", "Hello, ask me anything.")  # not a question
    assert store.session(s.id).title == ""
    first = "What is quantization? " * 10
    store.add_message(s.id, "user", first)
    store.add_message(s.id, "assistant", "It stores weights in fewer bits [1].")
    store.add_message(s.id, "user", "And what does it cost?")
    assert store.session(s.id).title == first[:80]  # the first question, cut to 80 characters


def test_explicit_title_is_kept_and_rename_truncates(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    s = store.create_session(nb.id, "My title")
    store.add_message(s.id, "user", "A question")
    assert store.session(s.id).title == "My title"
    store.rename(s.id, "x" * 500)
    assert store.session(s.id).title == "x" * 200
    assert store.create_session(nb.id, "y" * 300).title == "y" * 200
    assert store.session(store.sessions(nb.id)[0].id).title == "y" * 200


def test_messages_in_order_with_payload_round_trip(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    s = store.create_session(nb.id)
    other = store.create_session(nb.id)
    added = [
        store.add_message(s.id, "user", "What is the capital of France?"),
        store.add_message(s.id, "assistant", "Paris [1].", PAYLOAD),
        store.add_message(other.id, "user", "Unrelated"),
        store.add_message(s.id, "user", "And of Japan? \u6771\u4eac?"),
        store.add_message(s.id, "assistant", "", {}),
    ]
    msgs = store.messages(s.id)
    assert [m.content for m in msgs] == ["What is the capital of France?", "Paris [1].", "And of Japan? \u6771\u4eac?",
                                         ""]
    assert [m.role for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[1].payload == PAYLOAD
    assert msgs[0].payload == {} and msgs[3].payload == {}
    assert [m.id for m in msgs] == sorted(m.id for m in msgs)
    assert all(isinstance(m, ChatRecord) and m.session_id == s.id for m in msgs)
    assert msgs == [added[0], added[1], added[3], added[4]]  # what add_message returned is what is stored
    assert [m.content for m in store.messages(other.id)] == ["Unrelated"]
    assert store.messages("no-such-session") == []


def test_messages_limit_gives_the_last_ones(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    s = store.create_session(nb.id)
    for i in range(6):
        store.add_message(s.id, "user" if i % 2 == 0 else "assistant", f"m{i}")
    assert [m.content for m in store.messages(s.id, limit=2)] == ["m4", "m5"]
    assert [m.content for m in store.messages(s.id, limit=100)] == [f"m{i}" for i in range(6)]
    assert len(store.messages(s.id)) == 6


def test_payload_is_stored_as_json_and_survives_reopening(tmp_path: Path, clock: itertools.count) -> None:
    path = tmp_path / "library.db"
    lib = Library(path)
    nb = lib.create_notebook("Nb")
    store = ChatStore(lib)
    s = store.create_session(nb.id)
    store.add_message(s.id, "assistant", "Paris [1].", PAYLOAD)
    lib.close()
    lib2 = Library(path)
    try:
        store2 = ChatStore(lib2)
        [sess] = store2.sessions(nb.id)
        assert isinstance(sess, ChatSession) and sess.id == s.id
        [msg] = store2.messages(s.id)
        assert msg.payload == PAYLOAD
        raw = lib2.query("SELECT payload FROM chat_messages")[0][0]
        assert isinstance(raw, str) and '"passage_id": 1' in raw
    finally:
        lib2.close()


def test_unknown_session(store: ChatStore) -> None:
    with pytest.raises(NotebookError, match="No chat session nope"):
        store.session("nope")


def test_invalid_writes_are_rejected_atomically(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    s = store.create_session(nb.id)
    before = store.session(s.id)
    with pytest.raises(NotebookError, match="role must be"):
        store.add_message(s.id, "system", "roles are user or assistant")
    with pytest.raises(NotebookError, match="No chat session"):
        store.add_message("no-such-session", "user", "orphan")
    with pytest.raises(sqlite3.IntegrityError):
        store.create_session("no-such-notebook")
    assert store.session(s.id) == before  # the failed write changed nothing (not even "updated")
    assert store.messages(s.id) == []
    assert lib.query("SELECT count(*) FROM chat_messages")[0][0] == 0


def test_delete_session_removes_its_messages_only(lib: Library, store: ChatStore) -> None:
    nb = lib.create_notebook("Nb")
    keep = store.create_session(nb.id)
    gone = store.create_session(nb.id)
    store.add_message(keep.id, "user", "kept")
    store.add_message(gone.id, "user", "removed")
    store.add_message(gone.id, "assistant", "removed too", PAYLOAD)
    store.delete_session(gone.id)
    assert [s.id for s in store.sessions(nb.id)] == [keep.id]
    assert store.messages(gone.id) == []
    assert [m.content for m in store.messages(keep.id)] == ["kept"]
    assert lib.query("SELECT count(*) FROM chat_messages WHERE session_id = ?", (gone.id,))[0][0] == 0
    store.delete_session(gone.id)  # deleting again is harmless


def test_deleting_a_notebook_cascades_to_sessions_and_messages(lib: Library, store: ChatStore) -> None:
    a = lib.create_notebook("A")
    b = lib.create_notebook("B")
    sa = store.create_session(a.id)
    sb = store.create_session(b.id)
    store.add_message(sa.id, "user", "in A")
    store.add_message(sa.id, "assistant", "answer in A", PAYLOAD)
    store.add_message(sb.id, "user", "in B")
    lib.delete_notebook(a.id)
    assert store.sessions(a.id) == []
    with pytest.raises(NotebookError):
        store.session(sa.id)
    assert store.messages(sa.id) == []
    assert lib.query("SELECT count(*) FROM chat_sessions")[0][0] == 1
    assert lib.query("SELECT count(*) FROM chat_messages")[0][0] == 1
    assert [m.content for m in store.messages(sb.id)] == ["in B"]
