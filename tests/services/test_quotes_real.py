"""Quotes mode on the real stack: LibraryService (SQLite/FTS5 + Chroma + the MiniLM GGUF embedder), ChatService.

Answers are source sentences, cited like model answers; the generative engine is never touched. The
embedder is the app's built-in one (converted from its PyPI package once per test session).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.quotes import ABSTAIN_TEXT
from notebooklm_local.core.settings import ChatSettings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.chat import QUOTES_LABEL, ChatService
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import LibraryService

pytestmark = [pytest.mark.model]

DOCS = {
    "volcanoes.md": (
        "# Volcanoes\n\nMagma rises through the crust and erupts as lava. Basalt forms when lava cools quickly at "
        "the surface.\nGranite forms when magma cools slowly deep underground.\n\n## Hawaii\n\nThe Kilauea volcano "
        "in Hawaii\nerupted almost continuously from 1983 to 2018. Its lava lake was about 300 metres across.\n"
    ),
    "bakery.txt": (
        "Sourdough bread needs a starter made of flour and water. Bakers feed the starter every day.\n"
        "The dough is proofed overnight in a cool place, which gives the bread its sour taste.\n"
    ),
}


class ExplodingEngine:
    """The generative engine quotes mode must never touch (not even to ask what it is)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the engine was used in quotes mode ({name})")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, default_embedder_files: list[Path]) -> Iterator[dict[str, Any]]:
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    root = tmp_path_factory.mktemp("quotes-world")
    paths = app_paths(root / "home").ensure()
    embedder = LlamaCppEmbedder(default_embedder_files[0])
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                         ChromaIndex.persistent(paths.index / "chroma", embedder))
    lib.create_notebook("Notes")
    files = []
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
        files.append(str(root / name))
    report = lib.add("Notes", files)
    assert not report.failed, report.lines()
    templates = TemplateStore(root / "tpl-defaults", root / "tpl")
    yield {"lib": lib, "templates": templates, "root": root}
    lib.library.close()
    embedder.close()


def chat_with(world: dict[str, Any], engine: Any, **settings: Any) -> ChatService:
    return ChatService(world["lib"], engine, world["templates"], ChatSettings(**settings))


def test_quotes_answer_with_citations_that_resolve_to_the_exact_source_text(world: dict[str, Any]) -> None:
    lib = world["lib"]
    chat = chat_with(world, ExplodingEngine())
    streamed: list[str] = []
    result = chat.ask("Notes", "How does basalt form?", mode="quotes", new_session=True, on_token=streamed.append)
    ans = result.answer
    assert result.mode == "quotes" and result.extractive and result.label == QUOTES_LABEL
    assert result.generation is None and not ans.not_found
    assert ans.sentences and len(ans.citations) == len(ans.sentences) == len(result.passages)
    assert any("Basalt forms when lava cools quickly" in c.quote for c in ans.citations)
    given = {p.pid: p for p in result.passages}
    for s, c in zip(ans.sentences, ans.citations, strict=True):
        assert s.supported and s.citations == [c.passage_id]
        text, _blocks = lib.library.source_text(c.source_id)
        assert text[c.start : c.end] == c.quote, "the quote is not the source text"
        assert " ".join(c.quote.split()) in s.text  # the sentence shown is the quote (whitespace tidied)
        p = given[c.passage_id]
        assert (p.chunk_id, p.source_id) == (c.chunk_id, c.source_id)
        assert p.start <= c.start <= c.end <= p.end
        chunk = lib.library.chunks([c.chunk_id])[c.chunk_id]
        assert chunk.source_id == c.source_id and chunk.char_start <= c.start < chunk.char_end
    assert "".join(streamed) == ans.text == result.shown_text
    assert result.quotes is not None and result.quotes.confidence >= result.quotes.threshold
    assert "retrieval_s" in result.timings and "quotes_s" in result.timings

    d = result.to_json()
    assert d["mode"] == "quotes" and d["extractive"] is True and d["label"] == QUOTES_LABEL
    assert d["quote_scores"]["quotes"] and d["citations"][0]["quote"] == ans.citations[0].quote
    # stored in the session like any answer, and it reads back with its mode and citations
    msgs = chat.store.messages(result.session_id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].content == ans.text
    assert msgs[1].payload["mode"] == "quotes" and msgs[1].payload["extractive"] is True
    assert [c["quote"] for c in msgs[1].payload["citations"]] == [c.quote for c in ans.citations]
    assert msgs[1].payload["sentences"][0]["citations"] == [1]


def test_two_quotes_from_one_chunk_keep_their_own_spans(world: dict[str, Any]) -> None:
    chat = chat_with(world, ExplodingEngine())
    result = chat.ask("Notes", "How do basalt and granite form from cooling magma and lava?", mode="quotes",
                      new_session=True)
    quotes = [c.quote for c in result.answer.citations]
    assert len(set(quotes)) == len(quotes)
    assert [c.passage_id for c in result.answer.citations] == list(range(1, len(quotes) + 1))


def test_unrelated_question_abstains(world: dict[str, Any]) -> None:
    chat = chat_with(world, ExplodingEngine())
    result = chat.ask("Notes", "Who won the 2022 FIFA World Cup final?", mode="quotes", new_session=True)
    assert result.answer.not_found and not result.answer.citations and result.passages == []
    assert result.answer.text in (ABSTAIN_TEXT, "The selected sources don't contain an answer to this question.")
    assert result.mode == "quotes"


def test_non_english_question(world: dict[str, Any]) -> None:
    chat = chat_with(world, ExplodingEngine())
    result = chat.ask("Notes", "Wann brach der Kilauea auf Hawaii aus?", mode="quotes", new_session=True)
    if not result.answer.not_found:  # answering is fine when it quotes the right sentence
        assert any("Kilauea" in c.quote for c in result.answer.citations)


def test_follow_up_in_quotes_mode_uses_the_session(world: dict[str, Any]) -> None:
    chat = chat_with(world, ExplodingEngine(), mode="quotes")  # the setting, not the argument
    first = chat.ask("Notes", "What does a sourdough starter need?", new_session=True)
    assert first.mode == "quotes" and any("flour and water" in c.quote for c in first.answer.citations)
    second = chat.ask("Notes", "How often is it fed?", session_id=first.session_id)
    assert second.session_id == first.session_id and second.mode == "quotes"
    assert len(chat.store.messages(first.session_id)) == 4


def test_auto_mode_quotes_with_the_embedded_base_model_without_loading_it(
    world: dict[str, Any], tiny_model_path: Path
) -> None:
    from notebooklm_local.services.llama_runtime import LlamaCppEngine

    engine = LlamaCppEngine(tiny_model_path)
    chat = chat_with(world, engine)  # settings: chat.mode = "auto"
    assert chat.settings.mode == "auto"
    assert chat.model_is_base() and chat.resolve_mode() == "quotes" and chat.resolve_mode("auto") == "quotes"
    result = chat.ask("Notes", "How does granite form?", new_session=True)
    assert result.mode == "quotes" and result.answer.citations
    assert not engine.loaded, "quotes mode loaded the generative model"
    assert chat.resolve_mode("generate") == "generate"


def test_auto_mode_judges_a_gguf_from_its_header(world: dict[str, Any], tmp_path: Path) -> None:
    from notebooklm_local.services.llama_runtime import LlamaCppEngine
    from tests.helpers.gguf_files import write_gguf

    instruct = LlamaCppEngine(write_gguf(tmp_path / "chatty.gguf", name="Chatty Instruct"))
    base = LlamaCppEngine(write_gguf(tmp_path / "plain.gguf", name="Plain Base", chat_template=None))
    forced = LlamaCppEngine(write_gguf(tmp_path / "forced.gguf", name="Chatty Instruct"), chat_format="raw")
    assert chat_with(world, instruct).resolve_mode() == "generate"
    assert chat_with(world, base).resolve_mode() == "quotes"
    assert chat_with(world, forced).resolve_mode() == "quotes"
    assert chat_with(world, base, mode="generate").resolve_mode() == "generate"
    assert not (instruct.loaded or base.loaded or forced.loaded)


def test_unknown_mode_is_refused(world: dict[str, Any]) -> None:
    from notebooklm_local.core.errors import NotebookError

    chat = chat_with(world, ExplodingEngine())
    with pytest.raises(NotebookError, match="answer mode"):
        chat.ask("Notes", "How does basalt form?", mode="poetry")
