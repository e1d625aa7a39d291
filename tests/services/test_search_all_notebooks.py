"""The library-wide scope ("all notebooks") of search and chat, on the real stack: SQLite/FTS5, Chroma and the
built-in MiniLM GGUF embedder. A question answered from another notebook's source is found with the scope and
not without it; citations name the notebook and resolve to real spans; single-notebook search is unchanged.

Selected-sources semantics: the library-wide scope searches every ready source of every notebook, whatever is
ticked in any notebook; ``source_ids`` (API only) restrict it to those sources, of any notebook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.library import Library
from notebooklm_local.core.paths import app_paths, resources_dir
from notebooklm_local.core.settings import ChatSettings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.extensions.builtins import builtin_registry
from notebooklm_local.services.chat import NOTEBOOK_SEP, ChatService
from notebooklm_local.services.index import ChromaIndex
from notebooklm_local.services.library_service import RRF_K, LibraryService
from tests.helpers.scripted_engine import ScriptedEngine

pytestmark = [pytest.mark.model]

GEOLOGY = {
    "volcanoes.md": (
        "# Volcanoes\n\nMagma rises through the crust and erupts as lava. Basalt forms when lava cools quickly at "
        "the surface.\nGranite forms when magma cools slowly deep underground.\n\n## Hawaii\n\nThe Kilauea volcano "
        "in Hawaii\nerupted almost continuously from 1983 to 2018. Its lava lake was about 300 metres across.\n"
    ),
    "rivers.txt": (
        "Rivers carve valleys over millions of years. The Colorado River cut the Grand Canyon, which is about "
        "1.8 kilometres deep. Sediment carried by rivers builds deltas where they meet the sea.\n"
    ),
}
BAKING = {
    "bakery.txt": (
        "Sourdough bread needs a starter made of flour and water. Bakers feed the starter every day.\n"
        "The dough is proofed overnight in a cool place, which gives the bread its sour taste.\n"
    ),
    "oven.txt": (
        "A baking stone stores heat and gives pizza a crisp base. Preheat the oven for forty minutes before "
        "baking bread so that the stone is hot all the way through.\n"
    ),
}
QUESTION = "When did the Kilauea volcano erupt?"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, default_embedder_files: list[Path]) -> Iterator[dict[str, Any]]:
    from notebooklm_local.services.llama_runtime import LlamaCppEmbedder

    root = tmp_path_factory.mktemp("all-notebooks")
    paths = app_paths(root / "home").ensure()
    embedder = LlamaCppEmbedder(default_embedder_files[0])
    lib = LibraryService(paths.data, Library(paths.data / "library.db"), builtin_registry().source_loaders.items(),
                         ChromaIndex.persistent(paths.index / "chroma", embedder))
    for nb, docs in (("Geology", GEOLOGY), ("Baking", BAKING)):
        lib.create_notebook(nb)
        files = []
        for name, text in docs.items():
            (root / name).write_text(text, encoding="utf-8")
            files.append(str(root / name))
        report = lib.add(nb, files)
        assert not report.failed, report.lines()
    templates = TemplateStore(resources_dir() / "templates", root / "tpl")
    yield {"lib": lib, "templates": templates}
    lib.library.close()
    embedder.close()


def _title(lib: LibraryService, nb: str, file: str) -> str:
    return next(s.title for s in lib.sources(nb) if file.split(".")[0] in s.title.lower())


# -- search -----------------------------------------------------------------------------------------


def test_all_notebooks_search_finds_the_other_notebook_and_names_it(world: dict[str, Any]) -> None:
    lib: LibraryService = world["lib"]
    inside = lib.search("Baking", QUESTION, k=4)
    assert all(h.notebook == "Baking" for h in inside)
    assert not any("Kilauea" in h.chunk.text for h in inside)
    every = lib.search(None, QUESTION, k=4)
    assert "Kilauea" in every[0].chunk.text
    assert every[0].notebook == "Geology" and every[0].source.title == _title(lib, "Geology", "volcanoes")
    assert {h.notebook for h in every} <= {"Geology", "Baking"}
    j = every[0].to_json()
    assert j["notebook"] == "Geology" and j["notebook_id"] == lib.library.notebook("Geology").id
    # the other way round: a baking question from the geology notebook's point of view
    assert lib.search(None, "How long should the oven preheat?", k=1)[0].notebook == "Baking"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_all_notebooks_search_covers_every_ready_source(world: dict[str, Any], mode: str) -> None:
    lib: LibraryService = world["lib"]
    hits = lib.search(None, "lava bread river oven", k=50, mode=mode, candidates=50)
    n_chunks = sum(s.n_chunks for nb in ("Geology", "Baking") for s in lib.sources(nb))
    assert len({h.chunk.id for h in hits}) == len(hits)
    assert {h.notebook for h in hits} == {"Geology", "Baking"}
    if mode != "lexical":  # every chunk has a vector: dense reaches them all
        assert len(hits) == n_chunks


def _fused(lib: LibraryService, nb: str, query: str, k: int, source_ids: Sequence[str] | None) -> list[int]:
    """Single-notebook hybrid search, recomputed from its parts: the ranking the scope change must not alter."""
    nb_id = lib.library.notebook(nb).id
    ready = {s.id: s for s in lib.sources(nb)}
    subset = list(source_ids) if source_ids is not None and len(source_ids) < len(ready) else None
    assert lib.index is not None
    (vec,) = lib.index.embedder.embed([query])
    dense = lib.index.query(nb_id, vec, 40, subset)
    lex = lib.library.lexical_search(nb_id, query, source_ids=subset, limit=40)
    scores: dict[int, float] = {}
    for ranks in (dense, lex):
        for r, (cid, _s) in enumerate(ranks):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + r + 1)
    return sorted(scores, key=lambda c: (-scores[c], c))[:k]


@pytest.mark.parametrize("query", [QUESTION, "sourdough starter flour", "how deep is the canyon", "heat"])
def test_single_notebook_search_unchanged(world: dict[str, Any], query: str) -> None:
    lib: LibraryService = world["lib"]
    for nb in ("Geology", "Baking"):
        hits = lib.search(nb, query, k=5)
        assert [h.chunk.id for h in hits] == _fused(lib, nb, query, 5, None)
        assert all(h.notebook == nb and h.source.notebook_id == lib.library.notebook(nb).id for h in hits)
        one = [lib.sources(nb)[0].id]
        assert [h.chunk.id for h in lib.search(nb, query, k=5, source_ids=one)] == _fused(lib, nb, query, 5, one)


def test_library_wide_bm25_scores_a_row_as_its_notebook_does(world: dict[str, Any]) -> None:
    lib: LibraryService = world["lib"]
    for query in ("lava bread", "starter flour water", "river valleys sea"):
        every = dict(lib.library.lexical_search(None, query, limit=50))
        per_nb: dict[int, float] = {}
        for nb in lib.library.notebooks():
            per_nb.update(lib.library.lexical_search(nb.id, query, limit=50))
        assert every.keys() == per_nb.keys() and every
        assert all(abs(every[c] - per_nb[c]) < 1e-9 for c in every)


def test_all_notebooks_search_with_source_ids_of_two_notebooks(world: dict[str, Any]) -> None:
    lib: LibraryService = world["lib"]
    rivers = next(s for s in lib.sources("Geology") if "river" in s.title.lower())
    oven = next(s for s in lib.sources("Baking") if "oven" in s.title.lower())
    hits = lib.search(None, "lava volcano bread stone river", k=20, source_ids=[rivers.id, oven.id])
    assert hits and {h.source.id for h in hits} <= {rivers.id, oven.id}
    assert {h.notebook for h in hits} == {"Geology", "Baking"}


# -- chat ---------------------------------------------------------------------------------------------


def _cite_kilauea(messages: Sequence[Any], _schema: Any) -> str:
    """An instruct model that answers from the passage about Kilauea (cited), if it was given one."""
    prompt = messages[-1].content
    for m in re.finditer(r'<passage id="(\d+)" source="([^"]*)"[^>]*>(.*?)</passage>', prompt, re.S):
        if "Kilauea" in m.group(3):
            return f"The Kilauea volcano erupted almost continuously from 1983 to 2018 [{m.group(1)}]."
    return "The sources do not say."


def _chat(world: dict[str, Any], engine: Any) -> ChatService:
    return ChatService(world["lib"], engine, world["templates"], ChatSettings())


def _check_citations(lib: LibraryService, result: Any) -> None:
    for c in result.answer.citations:
        text, _blocks = lib.library.source_text(c.source_id)
        assert text[c.start:c.end] == c.quote  # the citation resolves to a real span of its source
        src = lib.library.source(c.source_id)
        nb = lib.library.notebook(src.notebook_id)
        assert c.source_title == f"{nb.name}{NOTEBOOK_SEP}{src.display}"


@pytest.mark.parametrize("mode", ["generate", "quotes"])
def test_ask_all_answers_from_another_notebook_and_not_without(world: dict[str, Any], mode: str) -> None:
    lib: LibraryService = world["lib"]
    chat = _chat(world, ScriptedEngine(fallback=_cite_kilauea, chat_format="chatml"))
    inside = chat.ask("Baking", QUESTION, mode=mode, new_session=True)
    assert not any("Kilauea" in c.quote for c in inside.answer.citations)
    assert inside.scope == "notebook"
    every = chat.ask("Baking", QUESTION, mode=mode, new_session=True, scope="all")
    assert every.scope == "all" and every.to_json()["scope"] == "all"
    assert every.answer.citations, every.answer.text
    volcano = _title(lib, "Geology", "volcanoes")
    assert any("Kilauea" in c.quote or "1983" in c.quote for c in every.answer.citations)
    assert every.answer.citations[0].source_title == f"Geology{NOTEBOOK_SEP}{volcano}"
    assert all(s.supported for s in every.answer.sentences if s.citations)
    _check_citations(lib, every)
    assert every.to_json()["sources"][0]["title"].startswith("Geology" + NOTEBOOK_SEP)
    # kept in the asking notebook's chat, marked as an all-notebooks answer
    session = chat.store.session(every.session_id)
    assert session.notebook_id == lib.library.notebook("Baking").id
    stored = chat.store.messages(session.id)[-1].payload
    assert stored["scope"] == "all" and stored["citations"][0]["source_title"].startswith("Geology" + NOTEBOOK_SEP)


def test_ask_all_ignores_the_notebooks_selection(world: dict[str, Any]) -> None:
    lib: LibraryService = world["lib"]
    baking = lib.sources("Baking")
    for s in baking:
        lib.library.update_source(s.id, selected=0)
    try:
        chat = _chat(world, ScriptedEngine(fallback=_cite_kilauea, chat_format="chatml"))
        none = chat.ask("Baking", QUESTION, mode="quotes", new_session=True)
        assert none.answer.not_found and not none.answer.citations
        every = chat.ask("Baking", QUESTION, mode="quotes", new_session=True, scope="all")
        assert every.answer.citations and every.answer.citations[0].source_title.startswith("Geology")
        only_oven = chat.ask("Baking", QUESTION, mode="quotes", new_session=True, scope="all",
                             source_ids=[s.id for s in baking if "oven" in s.title.lower()])
        assert not any("Kilauea" in c.quote for c in only_oven.answer.citations)
    finally:
        for s in baking:
            lib.library.update_source(s.id, selected=1)


def test_ask_rejects_an_unknown_scope(world: dict[str, Any]) -> None:
    from notebooklm_local.core.errors import NotebookError

    with pytest.raises(NotebookError, match="scope"):
        _chat(world, ScriptedEngine()).ask("Baking", QUESTION, mode="quotes", scope="everything")
