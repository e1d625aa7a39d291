"""Model-free studio outputs: extractive summary, key quotes, flashcards, quiz, mind map, timeline and data table.

Every item is a verbatim source sentence (or one with a blank) with a citation to its exact span; nothing is
generated and no model is loaded. The outputs are stored like the other studio outputs (``core/studio_store.py``)
with the kinds ``extract_summary``, ``key_quotes``, ``flashcards``, ``quiz``, ``mindmap``, ``timeline`` and
``data_table`` (their JSON
payload is the result's ``to_json()``), so they show in the studio history.

    studio = ExtractiveStudio(library_service)
    r = studio.make("flashcards", "My notebook", count=20)      # -> ExtractResult (stored)
    r.result.cards[0].front, r.result.cards[0].citation
    studio.export(r.result, "apkg", Path("deck.apkg"))
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.cards import CardDeck, Quiz, cloze_cards, multiple_choice
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.extractive import (
    LABEL,
    LENGTHS,
    Corpus,
    ExtractiveSummary,
    KeyQuotes,
    SourceMaterial,
    extractive_summary,
    key_quotes,
)
from notebooklm_local.core.extractive_json import result_from_json
from notebooklm_local.core.library import Source
from notebooklm_local.core.mindmap import MindMap, VectorGetter, mind_map
from notebooklm_local.core.notes import Note, NoteStore
from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.core.timeline import DataTable, Timeline, data_table, timeline
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.common import load_material

__all__ = ["ExtractiveStudio", "ExtractResult", "EXTRACT_KINDS", "FORMATS", "Result", "index_vectors"]

# CLI / GUI name -> stored kind
EXTRACT_KINDS: dict[str, str] = {"summary": "extract_summary", "quotes": "key_quotes", "flashcards": "flashcards",
                                 "quiz": "quiz", "mindmap": "mindmap", "timeline": "timeline", "table": "data_table"}
# export formats per stored kind (the first is the default)
FORMATS: dict[str, tuple[str, ...]] = {
    "extract_summary": ("md", "json"),
    "key_quotes": ("md", "json"),
    "flashcards": ("md", "csv", "apkg", "json"),
    "quiz": ("md", "csv", "apkg", "json"),
    "mindmap": ("md", "opml", "json"),
    "timeline": ("md", "csv", "json"),
    "data_table": ("md", "csv", "json"),
}
_TITLES = {"extract_summary": "Extracted summary", "key_quotes": "Key quotes", "flashcards": "Flashcards",
           "quiz": "Quiz", "mindmap": "Mind map", "timeline": "Timeline", "data_table": "Data table"}

Result = ExtractiveSummary | KeyQuotes | CardDeck | Quiz | MindMap | Timeline | DataTable


def _scored(corpus: Corpus | None) -> Corpus:
    """The scored corpus every output but the timeline and the data table is made from (set for them)."""
    assert corpus is not None
    return corpus


@dataclass
class ExtractResult:
    """A made (and stored) output: ``result`` is the object to show, ``output`` its studio record."""

    kind: str  # extract_summary | key_quotes | flashcards | quiz | mindmap | timeline | data_table
    result: Result
    output: StudioOutput | None
    seconds: float
    corpus_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = self.output.to_json() if self.output is not None else {"kind": self.kind, **self.result.to_json()}
        d["kind"] = self.kind
        d["seconds"] = round(self.seconds, 4)
        return d

    def to_markdown(self) -> str:
        return self.result.to_markdown()


def index_vectors(library: LibraryService, notebook_id: str) -> VectorGetter | None:
    """Chunk-id -> embedding getter over the notebook's Chroma collection (None without an index)."""
    index = library.index
    if index is None:
        return None

    def get(chunk_ids: Sequence[int]) -> list[list[float]] | None:
        col = index.collection(notebook_id)
        by_id: dict[int, list[float]] = {}
        ids = [f"c{i}" for i in chunk_ids]
        for k in range(0, len(ids), 2000):
            got = col.get(ids=ids[k : k + 2000], include=["embeddings"])
            for i, v in zip(got["ids"], got["embeddings"], strict=True):
                by_id[int(i[1:])] = [float(x) for x in v]
        if len(by_id) < len(chunk_ids):
            return None
        return [by_id[i] for i in chunk_ids]

    return get


class ExtractiveStudio:
    """Makes, stores and exports the model-free outputs of a notebook's sources (no engine needed)."""

    def __init__(self, library: LibraryService, *, use_embeddings: bool = False) -> None:
        self.library = library
        self.store = StudioStore(library.library)
        self.notes = NoteStore(library.library)
        self.use_embeddings = use_embeddings
        self._cache: tuple[Any, Corpus, list[Source], str] | None = None

    # -- material --------------------------------------------------------------------------------
    def corpus(self, notebook: str, source_ids: Sequence[str] | None = None) -> tuple[str, list[Source], Corpus]:
        """The notebook id, the ready sources used (the selected ones when ``source_ids`` is None) and their
        corpus. Cached while the sources are unchanged, so several outputs cost one analysis."""
        lib = self.library.library
        nb = lib.notebook(notebook)
        sources, passages = load_material(lib, nb.id, source_ids)
        key = (nb.id, tuple((s.id, s.updated, s.n_chunks) for s in sources))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[3], self._cache[2], self._cache[1]
        corpus = Corpus(self._read(sources, passages))
        self._cache = (key, corpus, sources, nb.id)
        return nb.id, sources, corpus

    def _read(self, sources: Sequence[Source], passages: Sequence[Any]) -> list[SourceMaterial]:
        lib = self.library.library
        by_src: dict[str, list[Any]] = {}
        for p in passages:
            by_src.setdefault(p.source_id, []).append(p)
        materials = []
        for s in sources:
            try:
                text, blocks = lib.source_text(s.id)
            except NotebookError:
                materials.append(SourceMaterial.from_passages(by_src.get(s.id, [])) if by_src.get(s.id) else
                                 SourceMaterial(s.id, s.display, "", []))
                continue
            url = s.ref.get("url") if isinstance(s.ref, dict) else None
            materials.append(SourceMaterial(s.id, s.display, text, by_src.get(s.id, []), blocks, s.kind, url))
        return materials

    def materials(self, notebook: str, source_ids: Sequence[str] | None = None
                  ) -> tuple[str, list[Source], list[SourceMaterial]]:
        """The sources' text and chunks without the sentence scoring (what the timeline and the table read):
        from the cached corpus when it is current, else read (not cached)."""
        lib = self.library.library
        nb = lib.notebook(notebook)
        sources, passages = load_material(lib, nb.id, source_ids)
        key = (nb.id, tuple((s.id, s.updated, s.n_chunks) for s in sources))
        if self._cache is not None and self._cache[0] == key:
            return nb.id, sources, list(self._cache[1].sources)
        return nb.id, sources, self._read(sources, passages)

    # -- making ----------------------------------------------------------------------------------
    def make(self, what: str, notebook: str, source_ids: Sequence[str] | None = None, *, store: bool = True,
             length: str | int = "medium", count: int | None = None, seed: int = 0, points: int = 2,
             use_embeddings: bool | None = None) -> ExtractResult:
        """Make one output. ``what``: summary | quotes | flashcards | quiz | mindmap | timeline | table (or the
        stored kind names).

        ``length`` (summary: short / medium / long or a number of words); ``count`` (quotes per source, default 5;
        cards, default 20; questions, default 10); ``seed`` (quiz option order); ``points`` (key sentences under
        each mind-map leaf); ``use_embeddings`` (mind map clusters on chunk embeddings when the index has them).
        Stored unless ``store`` is false."""
        kind = EXTRACT_KINDS.get(what, what)
        if kind not in FORMATS:
            raise NotebookError(f"Unknown output '{what}'. Choose one of: {', '.join(EXTRACT_KINDS)}.")
        if kind == "extract_summary" and isinstance(length, str) and length not in LENGTHS:
            raise NotebookError(f"Length must be one of: {', '.join(LENGTHS)}.")
        if count is not None and not 1 <= int(count) <= 500:
            raise NotebookError("The count must be between 1 and 500.")
        t0 = time.perf_counter()
        if kind in ("timeline", "data_table"):  # every sentence is read: no scoring needed
            nb_id, sources, mats = self.materials(notebook, source_ids)
            corpus = None
        else:
            nb_id, sources, corpus = self.corpus(notebook, source_ids)
            mats = corpus.sources
        t1 = time.perf_counter()
        names = [s.display for s in sources]
        title = _title(kind, names)
        options: dict[str, Any] = {}
        result: Result
        if kind == "extract_summary":
            result = extractive_summary(_scored(corpus), length, title=title)
            options["length"] = length
        elif kind == "key_quotes":
            options["count"] = int(count or 5)
            result = key_quotes(_scored(corpus), options["count"], title=title)
        elif kind == "flashcards":
            options["count"] = int(count or 20)
            result = cloze_cards(_scored(corpus), options["count"], title=title)
        elif kind == "quiz":
            options.update(count=int(count or 10), seed=int(seed))
            result = multiple_choice(_scored(corpus), options["count"], seed=int(seed), title=title)
        elif kind == "timeline":  # every sentence of the sources (not the corpus's sampled candidates)
            result = timeline(mats, title=title)
        elif kind == "data_table":
            result = data_table(mats, title=title)
        else:
            embed = self.use_embeddings if use_embeddings is None else use_embeddings
            vectors = index_vectors(self.library, nb_id) if embed else None
            options.update(points=int(points), embeddings=bool(vectors))
            nb_name = self.library.library.notebook(nb_id).name
            result = mind_map(_scored(corpus), title=nb_name if len(sources) > 1 else "", points=int(points), vectors=vectors)
        seconds = time.perf_counter() - t0
        out = None
        if store:
            payload = result.to_json()
            payload["stats"] = {"wall_s": round(seconds, 4), "corpus_s": round(t1 - t0, 4)}
            if corpus is not None:
                payload["stats"].update(sentences=len(corpus.sentences), sentences_found=corpus.n_spans)
            payload["notes"] = list(result.notes)
            out = self.store.add(nb_id, kind, title if kind != "mindmap" else f"Mind map \u2014 {result.title}",
                                 source_ids=[s.id for s in sources], options=options, model="", template="extractive",
                                 payload=payload)
        return ExtractResult(kind, result, out, seconds, t1 - t0, list(result.notes))

    def summary(self, notebook: str, source_ids: Sequence[str] | None = None, *, length: str | int = "medium",
                store: bool = True) -> ExtractResult:
        return self.make("summary", notebook, source_ids, length=length, store=store)

    def quotes(self, notebook: str, source_ids: Sequence[str] | None = None, *, count: int = 5,
               store: bool = True) -> ExtractResult:
        return self.make("quotes", notebook, source_ids, count=count, store=store)

    def flashcards(self, notebook: str, source_ids: Sequence[str] | None = None, *, count: int = 20,
                   store: bool = True) -> ExtractResult:
        return self.make("flashcards", notebook, source_ids, count=count, store=store)

    def quiz(self, notebook: str, source_ids: Sequence[str] | None = None, *, count: int = 10, seed: int = 0,
             store: bool = True) -> ExtractResult:
        return self.make("quiz", notebook, source_ids, count=count, seed=seed, store=store)

    def mindmap(self, notebook: str, source_ids: Sequence[str] | None = None, *, points: int = 2,
                use_embeddings: bool | None = None, store: bool = True) -> ExtractResult:
        return self.make("mindmap", notebook, source_ids, points=points, use_embeddings=use_embeddings, store=store)

    def timeline(self, notebook: str, source_ids: Sequence[str] | None = None, *, store: bool = True) -> ExtractResult:
        return self.make("timeline", notebook, source_ids, store=store)

    def table(self, notebook: str, source_ids: Sequence[str] | None = None, *, store: bool = True) -> ExtractResult:
        return self.make("table", notebook, source_ids, store=store)

    # -- stored outputs --------------------------------------------------------------------------
    def load(self, output_id: str) -> ExtractResult:
        """A stored output back as its result object (for the history, exports and notes)."""
        out = self.store.get(output_id)
        if out.kind not in FORMATS:
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not an extracted output.")
        result = result_from_json(out.kind, out.payload)
        return ExtractResult(out.kind, result, out, float(out.payload.get("stats", {}).get("wall_s", 0.0)))

    def save_note(self, output_id: str, *, title: str = "", tags: Sequence[str] = ()) -> Note:
        """Save a stored output as a note: its text with ``[n]`` markers and its citations."""
        r = self.load(output_id)
        body = f"*{getattr(r.result, 'label', LABEL)}.*\n\n" + r.result.text
        cits = [c.to_json() for c in r.result.citations]
        assert r.output is not None
        return self.notes.add(r.output.notebook_id, (title or r.output.title)[:200], body, citations=cits,
                              tags=list(tags), origin_kind=r.kind, origin_id=r.output.id)

    # -- exports ---------------------------------------------------------------------------------
    @staticmethod
    def render(result: Result, fmt: str) -> str:
        """The text of an export: md, json, csv (cards, quiz), opml (mind map)."""
        import json

        kind = result.to_json()["kind"]
        if fmt not in FORMATS[kind] or fmt == "apkg":
            raise NotebookError(f"A {kind} exports as {', '.join(FORMATS[kind])}, not {fmt}.")
        if fmt == "md":
            return _inert_markdown(result.to_markdown())
        if fmt == "json":
            return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
        if fmt == "csv":
            return result.to_csv()  # type: ignore[union-attr]
        return result.to_opml()  # type: ignore[union-attr]

    @classmethod
    def export(cls, result: Result, fmt: str, path: Path, *, deck_name: str = "") -> Path:
        """Write ``result`` as ``fmt`` (md, json, csv, opml, apkg) to ``path`` atomically; returns the path."""
        path = Path(path)
        if fmt == "apkg":
            from notebooklm_local.services.anki_export import write_apkg

            if not isinstance(result, (CardDeck, Quiz)):
                raise NotebookError("Only flashcards and quizzes export to Anki.")
            return write_apkg(result, path, deck_name=deck_name or result.title)
        text = cls.render(result, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path


def _inert_markdown(markdown: str) -> str:
    """Quoted source sentences may hold HTML as text (a web page about HTML, a page steering a reader): in a
    Markdown file Obsidian would render it and fetch remote images, so it is made inert, as for notes."""
    from notebooklm_local.core.note_export import neutralise_html

    return neutralise_html(markdown)


def _title(kind: str, names: Sequence[str]) -> str:
    base = _TITLES[kind]
    if not names:
        return base
    shown = names[0] if len(names) == 1 else f"{names[0]} + {len(names) - 1} more"
    return f"{base} \u2014 {shown}"[:200]
