"""Generative mind map: an instruct model draws a concept tree over the selected sources' passages under a
JSON grammar (a topic, main concepts, their sub-concepts), every concept naming the passages that state it.

Each concept's label is checked against its passages like an answer's sentence (``verify_sentences``: its
content words, names and numbers must be in them, or the embedder must find it close in meaning): a concept
that fails is **dropped** (its supported sub-concepts move up to its place), never drawn as if the sources
said it; the notes count what was dropped and why. A call whose tree has no supported concept is retried,
then that part is left out; a run with none at all is refused (``StudioError``) and nothing is stored.

Long material is read map-reduce style: the passages are cut into batches that fit the context (at most
``MAX_BATCHES``, spread over the whole material), each batch gives its concepts, and the reduce step merges
them without another call (concepts with the same label across parts become one node with all their
passages). The result is the same :class:`~notebooklm_local.core.mindmap.MindMap` the outline map is
(``generated`` true, concept nodes with ``refs`` to their passages and a ``citation`` of the sentence that
supports the label), stored with the kind ``mindmap``: the view, click-to-open, ask-in-chat and the exports
(Markdown outline, OPML, PNG) are shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation, Passage, format_passages, verify_sentences
from notebooklm_local.core.errors import StudioError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.mindmap import MAX_REFS, MindMap, MindNode, NodeRef
from notebooklm_local.core.studio_store import StudioStore
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.services.studio.cards_gen import (
    WrittenResult,
    local_passages,
    phrase_ok,
    sentence_citation,
    spread_batches,
)
from notebooklm_local.services.studio.common import (
    Progress,
    RunStats,
    batch_by_tokens,
    generate_structured,
    load_material,
    messages_for,
)
from notebooklm_local.services.studio.stages import OnStage, StageReporter

__all__ = ["generate_mindmap", "mindmap_schema", "MAP_LABEL"]

MAP_LABEL = "Drawn by the model from your sources \u2014 every concept checked against its passages"
MAX_BATCHES = 4
BRANCHES = 6
CHILDREN = 4


def mindmap_schema(n_passages: int, branches: int = BRANCHES, children: int = CHILDREN) -> dict[str, Any]:
    ids = {"type": "array", "minItems": 1, "maxItems": 3,
           "items": {"type": "integer", "enum": list(range(1, max(1, n_passages) + 1))}}
    label = {"type": "string", "maxLength": 60}
    leaf = {"type": "object", "properties": {"label": label, "passages": ids}, "required": ["label", "passages"]}
    branch = {"type": "object", "properties": {"label": label, "passages": ids,
                                               "children": {"type": "array", "maxItems": children, "items": leaf}},
              "required": ["label", "passages", "children"]}
    return {"type": "object", "properties": {"topic": label, "concepts": {
        "type": "array", "minItems": 1, "maxItems": branches, "items": branch}}, "required": ["topic", "concepts"]}


@dataclass
class _Concept:
    label: str
    passages: list[Passage]
    citation: Citation | None
    children: list[_Concept] = field(default_factory=list)


def _key(label: str) -> str:
    return " ".join(re.findall(r"\w+", label.casefold()))


def _check_label(label: str, pids: Any, by_local: dict[int, Passage], similarity: Similarity | None,
                 reasons: list[str]) -> _Concept | None:
    label = " ".join(str(label).split()).strip(" .:;-")
    if not re.search(r"[^\W\d_]", label) or len(label.split()) > 10:
        reasons.append(f"\u201c{label[:40]}\u201d is not a concept label")
        return None
    ids = [i for i in pids if isinstance(i, int) and not isinstance(i, bool)] if isinstance(pids, list) else []
    cited = [by_local[i] for i in dict.fromkeys(ids) if i in by_local]
    if not cited:
        reasons.append(f"\u201c{label[:40]}\u201d cites no passage it was given")
        return None
    sents, _ = verify_sentences([(label, [p.pid for p in cited])], cited, similarity)
    s = sents[0]
    if not (s.supported and s.citations) and not phrase_ok(s):
        reasons.append(f"\u201c{label[:40]}\u201d: {s.flag or 'not supported by its passages'}")
        return None
    cit = None
    for p in cited:  # the sentence of the first cited passage that best matches the label
        q = s.quotes.get(p.pid)
        if q is not None:
            cit = sentence_citation(p, p.pid, max(0, min(len(p.text) - 1, q[0] - p.start)))
            if cit is not None:
                break
    return _Concept(label, cited, cit)


def _checker(by_local: dict[int, Passage], similarity: Similarity | None,
             dropped: list[str]) -> Callable[[Any], tuple[str, list[_Concept]]]:
    def check(data: Any) -> tuple[str, list[_Concept]]:
        concepts = data.get("concepts") if isinstance(data, dict) else None
        if not isinstance(concepts, list) or not concepts:
            raise ValueError("no concepts in the output")
        reasons: list[str] = []
        out: list[_Concept] = []
        for c in concepts:
            if not isinstance(c, dict):
                reasons.append("a concept is not an object")
                continue
            node = _check_label(c.get("label", ""), c.get("passages"), by_local, similarity, reasons)
            raw_kids = c.get("children")
            raw: list[Any] = raw_kids if isinstance(raw_kids, list) else []
            kids: list[_Concept] = []
            for k in raw:
                got = _check_label(k.get("label", ""), k.get("passages"), by_local, similarity, reasons) \
                    if isinstance(k, dict) else None
                if got is not None:
                    kids.append(got)
            if node is None:
                out += kids  # a dropped concept's supported sub-concepts take its place
            else:
                node.children = [k for k in kids if _key(k.label) != _key(node.label)]
                out.append(node)
        if not out:
            raise ValueError("no concept is supported by its passages (" + "; ".join(reasons[:3]) + ")")
        dropped[:] = reasons
        topic = " ".join(str(data.get("topic", "")).split())[:80]
        t = _check_label(topic, list(by_local), by_local, similarity, []) if topic else None
        return (t.label if t is not None else ""), out

    return check


def _merge(into: list[_Concept], more: Sequence[_Concept]) -> None:
    """The reduce step: concepts with the same label become one (passages and sub-concepts joined)."""
    by_key = {_key(c.label): c for c in into}
    for c in more:
        k = _key(c.label)
        if k in by_key:
            have = by_key[k]
            have.passages += [p for p in c.passages if (p.chunk_id, p.start) not in
                              {(q.chunk_id, q.start) for q in have.passages}]
            _merge(have.children, c.children)
        else:
            by_key[k] = c
            into.append(c)


def generate_mindmap(engine: Engine, library: Any, notebook: str, source_ids: Sequence[str] | None = None, *,
                     template: PromptTemplate, language: str = "", similarity: Similarity | None = None,
                     retries: int = 1, store: bool = True, progress: Progress | None = None,
                     on_stage: OnStage | None = None, cancel: CancelToken | None = None,
                     max_batches: int = MAX_BATCHES, branches: int = BRANCHES, max_tokens: int = 700,
                     provenance: dict[str, Any] | None = None) -> WrittenResult:
    """A concept map of the notebook's selected sources (or ``source_ids``) drawn by ``engine``, every concept
    checked against its passages (see the module docstring). ``library`` is the LibraryService."""
    cancel = cancel or CancelToken()
    reporter = StageReporter(progress, on_stage)
    stats = RunStats()
    lib = library.library
    nb = lib.notebook(notebook)
    sources, passages = load_material(lib, nb.id, source_ids)
    model = engine.info().model
    n_ctx = engine.info().n_ctx or 4096
    overhead = engine.count_chat_tokens(messages_for(template, {"passages": "", "branches": branches,
                                                                "language": language}))
    room = max(300, n_ctx - max_tokens - overhead - 64)
    batches, left_out = spread_batches(batch_by_tokens(passages, engine.count_tokens, room), max_batches)
    notes: list[str] = []
    if left_out:
        notes.append(f"The sources are long: the model read {sum(len(b) for b in batches)} passages spread over them; "
                     f"{left_out} others were left out.")
    concepts: list[_Concept] = []
    topics: list[str] = []
    dropped: list[str] = []
    failures: list[str] = []
    for i, batch in enumerate(batches):
        cancel.raise_if_set()
        reporter.unit(i, len(batches), "Reading part" if len(batches) > 1 else "Drawing the map",
                      part=i + 1, parts=len(batches))
        local = local_passages(batch)
        msgs = messages_for(template, {"passages": format_passages(local), "branches": branches,
                                       "language": language})
        why: list[str] = []
        try:
            (topic, got), _ = generate_structured(
                engine, msgs, mindmap_schema(len(local), branches), _checker({p.pid: p for p in local}, similarity, why),
                what="mind map", max_tokens=max_tokens, retries=retries, stats=stats, temperature=0.2, cancel=cancel,
                reporter=reporter)
        except StudioError as e:
            failures.append(str(e))
            continue
        dropped += why
        if topic:
            topics.append(topic)
        _merge(concepts, got)
    reporter.unit(len(batches), len(batches), "Combining the parts")
    if not concepts:
        stats.finish()
        raise StudioError(failures[0] if failures else "The model gave no usable mind map.")
    if failures:
        notes.append(f"{len(failures)} of {len(batches)} parts gave no concept that passed the checks.")
    if dropped:
        notes.append(f"{len(dropped)} concept(s) dropped: not supported by their passages (e.g. {dropped[0]}).")
    names = [s.display for s in sources]
    root_label = topics[0] if topics else (names[0] if len(names) == 1 else nb.name)
    counter = [0]

    def build(c: _Concept, nid: str) -> MindNode:
        cit = c.citation
        if cit is not None:
            counter[0] += 1
            cit = Citation(counter[0], cit.chunk_id, cit.source_id, cit.source_title, cit.page, cit.t_start,
                           cit.start, cit.end, cit.quote, cit.location, cit.url)
        refs = [NodeRef.of(p) for p in c.passages]
        return MindNode(nid, c.label, "concept", refs[:MAX_REFS],
                        [build(k, f"{nid}.{j}") for j, k in enumerate(c.children, 1)], citation=cit, n_refs=len(refs))

    every = [p for c in concepts for p in c.passages]
    root = MindNode("g", root_label, "notebook", [NodeRef.of(p) for p in every][:MAX_REFS],
                    [build(c, f"g{j}") for j, c in enumerate(concepts, 1)], n_refs=len(every))
    result = MindMap(root_label, root, notes, MAP_LABEL, True, model)
    n_nodes = len(result.nodes) - 1
    reporter.finish(f"{n_nodes} concepts, every one checked")
    stats.finish()
    out = None
    if store:
        payload = result.to_json()
        payload["stats"] = {**stats.to_json(), "wall_s": round(stats.wall_s, 4)}
        payload["dropped"] = dropped[:50]
        if provenance:
            payload["provenance"] = provenance
        out = StudioStore(lib).add(nb.id, "mindmap", f"Mind map \u2014 {root_label}"[:200],
                                   source_ids=[s.id for s in sources],
                                   options={"generated": True, "branches": branches, "language": language},
                                   model=model, template=template.name, payload=payload)
    return WrittenResult("mindmap", result, out, stats, notes, dropped)
