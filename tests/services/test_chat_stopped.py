"""A stopped answer (Stop, or the window closing) through ChatService with a scripted engine: stored once,
marked as stopped, its finished sentences checked and the one being written kept apart, unchecked, with no
"unsupported", "not found" or "the model wrote nothing" mark on it; or not stored at all when asked so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.citations import NO_ANSWER_TEXT, NOT_FOUND_TEXT, strip_markers
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.paths import app_paths
from notebooklm_local.services.chat import STOPPED_NOTE, AskResult, ChatService
from notebooklm_local.workspace import template_store
from tests.helpers.studio_world import World, make_world

FREE = ("The Q4_K_M format in llama.cpp uses about 4.8 bits per weight [1]. "
        "Quantization stores model weights in fewer bits and so the files are smaller [1].")
STRUCTURED = {"answerable": True, "sentences": [
    {"text": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight.", "citations": [1],
     "quote": "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight."},
    {"text": "Quantization stores model weights in fewer bits and so the files are smaller.", "citations": [1],
     "quote": "Quantization stores model weights in fewer bits."}]}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "docs")


def _chat(world: World) -> ChatService:
    world.settings.chat.mode = "generate"
    return ChatService(world.lib, world.engine, template_store(app_paths()), world.settings.chat)


def _ask_and_stop(chat: ChatService, world: World, output: Any, stop_when: str, *, structured: bool,
                  store_stopped: Any = None) -> AskResult:
    """Ask; press Stop as soon as the streamed text contains ``stop_when``."""
    world.engine.outputs = [output]
    token = CancelToken()
    shown: list[str] = []

    def on_token(piece: str) -> None:
        shown.append(piece)
        if stop_when in "".join(shown):
            token.cancel()

    return chat.ask(world.notebook_id, "How many bits does Q4_K_M use?", new_session=True, structured=structured,
                    on_token=on_token, cancel=token, store_stopped=store_stopped)


def _assert_stopped_honestly(result: AskResult, cut_start: str) -> None:
    ans = result.answer
    assert result.cancelled
    assert result.cut_off.startswith(cut_start) and "[" not in result.cut_off
    assert ans.notes.count(STOPPED_NOTE) == 1 and not any("Stopped before" in n for n in ans.notes)
    assert not ans.not_found and NOT_FOUND_TEXT not in ans.text and NO_ANSWER_TEXT not in ans.text
    assert ans.flags == [] and ans.unsupported == []  # the half sentence is neither supported nor flagged
    assert result.cut_off not in ans.text


@pytest.mark.parametrize("structured", [False, True], ids=["free-text", "structured"])
def test_a_stopped_answer_keeps_its_finished_sentences_checked_and_the_cut_one_apart(
        world: World, structured: bool) -> None:
    chat = _chat(world)
    result = _ask_and_stop(chat, world, STRUCTURED if structured else FREE, "fewer", structured=structured)
    _assert_stopped_honestly(result, "Quantization stores model weights in fewer")
    ans = result.answer
    assert [strip_markers(s.text) for s in ans.sentences] == [
        "The Q4_K_M format in llama.cpp uses about 4.8 bits per weight."]
    assert ans.sentences[0].supported and ans.sentences[0].citations == [1] and len(ans.citations) == 1
    # stored once: the question and the stopped answer, marked as stopped, nothing contradicting it
    messages = ChatStore(world.library).messages(result.session_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    payload = messages[1].payload
    assert payload["cancelled"] is True and payload["cut_off"] == result.cut_off
    assert payload["notes"].count(STOPPED_NOTE) == 1
    assert payload["flags"] == [] and payload["not_found"] is False
    assert messages[1].content == ans.text


def test_stopped_at_the_first_words_is_no_empty_answer_and_no_not_found(world: World) -> None:
    chat = _chat(world)
    result = _ask_and_stop(chat, world, "The selected sources don't contain anything about it.", "The sel",
                           structured=False)
    _assert_stopped_honestly(result, "The sel")
    assert result.answer.text == "" and result.answer.sentences == []
    payload = ChatStore(world.library).messages(result.session_id)[1].payload
    assert payload["not_found"] is False and payload["flags"] == [] and payload["sentences"] == []
    # a follow-up does not feed the model an empty turn
    assert chat.history(result.session_id) == []


def test_a_finished_not_found_sentence_of_a_stopped_answer_stays_the_models_own_words(world: World) -> None:
    chat = _chat(world)
    out = "The sources do not contain an answer to this question. They only describe formats in general terms."
    result = _ask_and_stop(chat, world, out, "general", structured=False)
    assert result.cut_off.startswith("The sources do not contain an answer to this question. They only")
    assert not result.answer.not_found and result.answer.flags == []


def test_a_stopped_answer_is_not_stored_when_the_caller_discards_it(world: World) -> None:
    chat = _chat(world)
    result = _ask_and_stop(chat, world, FREE, "fewer", structured=False, store_stopped=lambda: False)
    assert result.cancelled
    store = ChatStore(world.library)
    assert store.sessions(world.notebook_id) == []  # the chat made for the question is gone too
    # in an existing chat, its earlier messages stay and nothing is added
    world.engine.outputs = [FREE]
    first = chat.ask(world.notebook_id, "How many bits?", new_session=True, structured=False)
    world.engine.outputs = [FREE]
    token = CancelToken()
    chat.ask(world.notebook_id, "And the files?", session_id=first.session_id, structured=False,
             on_token=lambda _p: token.cancel(), cancel=token, store_stopped=lambda: False)
    assert [m.role for m in store.messages(first.session_id)] == ["user", "assistant"]
    assert [s.id for s in store.sessions(world.notebook_id)] == [first.session_id]


def test_an_answer_that_was_not_stopped_is_unchanged(world: World) -> None:
    chat = _chat(world)
    world.engine.outputs = [FREE]
    result = chat.ask(world.notebook_id, "How many bits?", new_session=True, structured=False,
                      store_stopped=lambda: False)  # only asked about stopped answers
    assert not result.cancelled and result.cut_off == "" and len(result.answer.sentences) == 2
    assert STOPPED_NOTE not in result.answer.notes
    assert len(ChatStore(world.library).messages(result.session_id)) == 2
