"""An outline mind map of a notebook (or one source), made of the sources' own structure and sentences.

The tree: root (the notebook, or the source when there is one) -> sources -> the document's headings
where it has them (Markdown and web headings, as stored on its blocks and chunks), else topic clusters of
its chunks (spherical k-means on TF-IDF vectors, or on chunk embeddings when a vector getter is given),
named by their key phrases (class-based TF-IDF of words and word pairs) -> up to ``points`` key sentences
(verbatim, cited) under each leaf. Every node links to its passages (chunk ids and spans).

Bounded: at most ``MAX_CLUSTER_CHUNKS`` chunks are clustered per source (evenly spaced; the others are
assigned to the nearest centroid up to ``MAX_ASSIGN``), at most ``MAX_REFS`` passage links per node and
``MAX_HEADING_NODES`` heading nodes per source (deeper levels are folded into their parents).

Pure Python.
"""

from __future__ import annotations

import bisect
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.citations import Citation, Passage, format_location
from notebooklm_local.core.extractive import (
    HEADING_SEP,
    LABEL,
    Corpus,
    Sentence,
    Vector,
    common_prefix,
    cosine,
    md_escape,
    md_footnote,
    mmr,
    normalise,
    one_line,
    terms,
)
from notebooklm_local.core.textutil import STOPWORDS

__all__ = ["NodeRef", "MindNode", "MindMap", "mind_map", "VectorGetter"]

MAX_CLUSTER_CHUNKS = 600
MAX_ASSIGN = 6000
MAX_REFS = 40
MAX_HEADING_NODES = 300

# chunk ids -> their embeddings (same order); None when they are not available
VectorGetter = Callable[[Sequence[int]], "Sequence[Sequence[float]] | None"]


@dataclass
class NodeRef:
    """A passage a node stands for: chunk ``chunk_id`` of ``source_id``, ``start``/``end`` in the source text
    (the whole chunk, or the sentence for a point)."""

    chunk_id: int
    source_id: str
    start: int
    end: int
    page: int | None = None
    t_start: float | None = None

    @property
    def location(self) -> str:
        return format_location(self.page, None, self.t_start)

    def to_json(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "source_id": self.source_id, "start": self.start, "end": self.end,
                "page": self.page, "t_start": self.t_start, "location": self.location}

    @classmethod
    def of(cls, p: Passage) -> NodeRef:
        return cls(p.chunk_id, p.source_id, p.start, p.end, p.page, p.t_start)


@dataclass
class MindNode:
    """A node of the map. ``kind``: notebook | source | heading | cluster | point. A point is a verbatim
    sentence with its ``citation``; a cluster has its key ``phrases``. ``refs``: its passages (at most
    ``MAX_REFS``; ``n_refs`` counts them all)."""

    id: str
    label: str
    kind: str
    refs: list[NodeRef] = field(default_factory=list)
    children: list[MindNode] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    citation: Citation | None = None
    n_refs: int = 0

    @property
    def title(self) -> str:
        """The label (what tree views that read ``title`` show)."""
        return self.label

    @property
    def citations(self) -> list[Citation]:
        """A point's citation as a list (empty for the other nodes; their passages are in ``refs``)."""
        return [self.citation] if self.citation is not None else []

    def walk(self) -> list[MindNode]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "label": self.label, "title": self.label, "kind": self.kind,
                             "refs": [r.to_json() for r in self.refs], "n_refs": self.n_refs or len(self.refs),
                             "children": [c.to_json() for c in self.children]}
        if self.phrases:
            d["phrases"] = self.phrases
        if self.citation is not None:
            d["citation"] = self.citation.to_json()
        return d


@dataclass
class MindMap:
    title: str
    root: MindNode
    notes: list[str] = field(default_factory=list)
    label: str = LABEL
    generated: bool = False  # a concept tree written by ``model`` (every label checked against its passages)
    model: str = ""

    @property
    def nodes(self) -> list[MindNode]:
        return self.root.walk()

    @property
    def citations(self) -> list[Citation]:
        return [n.citation for n in self.nodes if n.citation is not None]

    @property
    def text(self) -> str:
        lines = []

        def walk(n: MindNode, depth: int) -> None:
            cite = f" [{n.citation.passage_id}]" if n.citation is not None else ""
            lines.append("  " * depth + "- " + one_line(n.label) + cite)
            for c in n.children:
                walk(c, depth + 1)

        walk(self.root, 0)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "mindmap", "label": self.label, "title": self.title, "root": self.root.to_json(),
                "citations": [c.to_json() for c in self.citations], "text": self.text, "notes": self.notes,
                **({"generated": True, "model": self.model} if self.generated else {})}

    def to_markdown(self) -> str:
        """A nested-list outline; points carry footnote citations."""
        out = [f"# {md_escape(self.title)}", "", f"*{self.label}.*", ""]

        def walk(n: MindNode, depth: int) -> None:
            label = md_escape(n.label)
            if n.kind in ("source", "heading", "cluster") and n.kind != "point":
                label = f"**{label}**"
            loc = ""
            if n.kind in ("heading", "cluster") and n.refs:
                locs = [r.location for r in n.refs if r.location]
                loc = f" ({md_escape(locs[0])})" if locs else ""
            cite = f"[^{n.citation.passage_id}]" if n.citation is not None else ""
            out.append("  " * depth + f"- {label}{loc}{cite}")
            for c in n.children:
                walk(c, depth + 1)

        walk(self.root, 0)
        out.append("")
        for n in self.notes:
            out += [f"*Note: {md_escape(n)}*", ""]
        out += [md_footnote(c.passage_id, c) for c in self.citations]
        return "\n".join(out).rstrip() + "\n"

    def to_opml(self) -> str:
        """OPML 2.0: one ``<outline text=...>`` per node; ``_kind``, ``_chunks`` (chunk ids), ``_source`` and,
        for points, ``_location`` attributes."""
        opml = ET.Element("opml", version="2.0")
        head = ET.SubElement(opml, "head")
        ET.SubElement(head, "title").text = _xml_safe(self.title)
        body = ET.SubElement(opml, "body")

        def walk(n: MindNode, parent: ET.Element) -> None:
            attrs = {"text": _xml_safe(one_line(n.label)), "_kind": n.kind}
            if n.refs:
                attrs["_chunks"] = ",".join(str(r.chunk_id) for r in n.refs)
                attrs["_source"] = n.refs[0].source_id
            if n.citation is not None:
                attrs["_note"] = _xml_safe(f"{n.citation.source_title}" + (
                    f", {n.citation.location}" if n.citation.location else ""))
            el = ET.SubElement(parent, "outline", attrs)
            for c in n.children:
                walk(c, el)

        walk(self.root, body)
        ET.indent(opml)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _XML_BAD.sub("", text)


# ---------------------------------------------------------------------------------------------
# Key phrases


def _phrases(texts: Sequence[str]) -> Counter[str]:
    """Words and adjacent word pairs (no stop words, no numbers) in their written form, lower-cased unless
    they are written capitalised in the middle of a sentence (names, acronyms)."""
    c: Counter[str] = Counter()
    for t in texts:
        toks = re.findall(r"(?<![\\\w])[^\W\d_][\w'\u2019-]*[^\W_]", t)
        prev = ""
        for i, w in enumerate(toks):
            low = w.casefold()
            if low in STOPWORDS or len(w) < 3:
                prev = ""
                continue
            form = w if (i > 0 and any(ch.isupper() for ch in w)) else low
            c[form] += 1
            if prev:
                c[prev + " " + form] += 1
            prev = form
    return c


def _label(clusters: Sequence[Counter[str]], k: int, *, n: int = 3) -> list[str]:
    """Class-based TF-IDF: phrases frequent in cluster ``k`` and rare in the others; pairs weigh more."""
    mine = clusters[k]
    total = sum(mine.values()) or 1
    out: list[tuple[float, str]] = []
    for ph, f in mine.items():
        if f < 2 and len(mine) > 20:
            continue
        spread = sum(1 for c in clusters if ph in c)
        score = f / total * math.log(1 + len(clusters) / spread) * (1.6 if " " in ph else 1.0)
        out.append((score, ph))
    out.sort(key=lambda t: (-t[0], t[1]))
    chosen: list[str] = []
    for _, ph in out:
        low = ph.casefold()
        if any(low in c.casefold() or c.casefold() in low for c in chosen):
            continue
        chosen.append(ph)
        if len(chosen) == n:
            break
    return chosen


# ---------------------------------------------------------------------------------------------
# Clustering


def _dense_cos(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False))


def _nearest(v: Any, cents: Sequence[Any], candidates: Sequence[int] | range,
             dot: Callable[[Any, Any], float]) -> int:
    """The candidate centre most similar to ``v`` (the lowest index on a tie)."""
    return max(candidates, key=lambda j: (dot(v, cents[j]), -j))


def _kmeans(vecs: list[Any], k: int, dot: Callable[[Any, Any], float], mean: Callable[[list[Any]], Any],
            iters: int = 12) -> list[int]:
    """Spherical k-means, deterministic: seeds are farthest-first from the vector nearest the overall mean."""
    n = len(vecs)
    if k <= 1 or n <= k:
        return list(range(n)) if n <= k else [0] * n
    centre = mean(vecs)
    first = max(range(n), key=lambda i: (dot(vecs[i], centre), -i))
    seeds = [first]
    best_sim = [dot(v, vecs[first]) for v in vecs]
    while len(seeds) < k:
        nxt = min(range(n), key=lambda i: (best_sim[i], i))
        seeds.append(nxt)
        best_sim = [max(s, dot(v, vecs[nxt])) for s, v in zip(best_sim, vecs, strict=True)]
    cents = [vecs[i] for i in seeds]
    assign = [0] * n
    for _ in range(iters):
        new = [_nearest(v, cents, range(k), dot) for v in vecs]
        if new == assign and _ > 0:
            break
        assign = new
        for j in range(k):
            members = [vecs[i] for i in range(n) if assign[i] == j]
            if members:
                cents[j] = mean(members)
    return assign


def _sparse_mean(vs: list[Vector]) -> Vector:
    acc: Counter[str] = Counter()
    for v in vs:
        acc.update(v)
    return normalise(dict(acc.most_common(300)))


def _dense_mean(vs: list[Sequence[float]]) -> list[float]:
    dim = len(vs[0])
    acc = [0.0] * dim
    for v in vs:
        for i, x in enumerate(v):
            acc[i] += x
    norm = math.sqrt(sum(x * x for x in acc)) or 1.0
    return [x / norm for x in acc]


def _unit(v: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


# ---------------------------------------------------------------------------------------------
# Building the tree


class _Builder:
    def __init__(self, corpus: Corpus, points: int, vectors: VectorGetter | None, max_clusters: int) -> None:
        self.corpus = corpus
        self.points = points
        self.vectors = vectors
        self.max_clusters = max_clusters
        self.pid = 0
        self.notes: list[str] = []
        self.by_chunk: dict[int, list[Sentence]] = {}
        for s in corpus.sentences:
            self.by_chunk.setdefault(s.passage.chunk_id, []).append(s)

    def _refs(self, node: MindNode, passages: Sequence[Passage]) -> None:
        node.n_refs = len(passages)
        node.refs = [NodeRef.of(p) for p in passages[:MAX_REFS]]

    def _points(self, node: MindNode, passages: Sequence[Passage], exclude: set[int],
                sentences: Sequence[Sentence] | None = None) -> None:
        cands = list(sentences) if sentences is not None else [
            s for p in passages for s in self.by_chunk.get(p.chunk_id, [])]
        cands = [s for s in cands if s.idx not in exclude]
        pool = [s for s in cands if s.strict] or cands
        if not pool or not self.points:
            return
        centre = _sparse_mean([s.vec for s in pool])  # central to this node, not only to the whole source
        picks = mmr(pool, self.points, max_sim=0.5, relevance=lambda s: 0.6 * cosine(s.vec, centre) + 0.4 * s.score)
        for s in sorted(picks, key=lambda s: s.start):
            exclude.add(s.idx)
            self.pid += 1
            c = s.citation(self.pid)
            node.children.append(MindNode(f"{node.id}.{len(node.children) + 1}", s.display, "point",
                                          [NodeRef(s.passage.chunk_id, s.passage.source_id, s.start, s.end, s.page,
                                                   s.t_start)], citation=c, n_refs=1))

    def source_node(self, i: int, node_id: str) -> MindNode:
        src = self.corpus.sources[i]
        node = MindNode(node_id, src.title or src.source_id, "source")
        passages = sorted((p for p in src.passages if p.text.strip()), key=lambda p: p.start)
        if not passages:
            return node
        if self._sections(i, passages):
            self._headings(node, i, passages)
        else:
            self._clusters(node, i, passages)
        return node

    # -- headings --------------------------------------------------------------------------------
    def _sections(self, i: int, passages: list[Passage]) -> list[tuple[tuple[str, ...], int, int]]:
        """(heading path, start, end) of each section: from the heading blocks when stored, else from the
        chunks' heading paths. The part before the first heading has the path ()."""
        src = self.corpus.sources[i]
        heads = sorted((b for b in src.blocks if isinstance(b, dict) and b.get("kind") == "heading"
                        and b.get("heading_path")), key=lambda b: b["start"])
        out: list[tuple[tuple[str, ...], int, int]] = []
        if heads:
            if heads[0]["start"] > 0:
                out.append(((), 0, heads[0]["start"]))
            for k, b in enumerate(heads):
                end = heads[k + 1]["start"] if k + 1 < len(heads) else len(src.text)
                out.append((tuple(str(x) for x in b["heading_path"]), b["start"], end))
            return out
        if not any(p.heading for p in passages):
            return []
        for p in passages:
            pth = tuple(x for x in p.heading.split(HEADING_SEP) if x)
            if out and out[-1][0] == pth:
                out[-1] = (pth, out[-1][1], p.end)
            else:
                out.append((pth, p.start, p.end))
        return out

    def _headings(self, node: MindNode, i: int, passages: list[Passage]) -> None:
        sections = self._sections(i, passages)
        paths = [pth for pth, _, _ in sections]
        # a title every section shares (the document's only H1) is the source node itself
        common = common_prefix([pth for pth in paths if pth])
        if common and any(len(pth) > len(common) for pth in paths):
            paths = [pth[len(common):] for pth in paths]
        full = max((len(x) for x in paths), default=0)
        depth = full
        while depth > 1 and len({pth[:d] for pth in paths for d in range(1, min(depth, len(pth)) + 1)}) \
                > MAX_HEADING_NODES:
            depth -= 1
        if depth < full:
            self.notes.append(f"{node.label}: headings deeper than level {depth} are folded into their parents.")
        tree: dict[tuple[str, ...], MindNode] = {(): node}
        spans: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        for (_, a, b), pth in zip(sections, paths, strict=True):
            pth = pth[:depth]
            for d in range(1, len(pth) + 1):
                key = pth[:d]
                if key not in tree:
                    parent = tree[key[:-1]]
                    child = MindNode(f"{parent.id}.{len(parent.children) + 1}", key[-1], "heading")
                    parent.children.append(child)
                    tree[key] = child
            spans.setdefault(pth, []).append((a, b))
        starts = [p.start for p in passages]
        sents = sorted(self.corpus.of_source(i), key=lambda s: s.start)
        s_starts = [s.start for s in sents]
        used: set[int] = set()
        for key, n in tree.items():
            ps: dict[int, Passage] = {}
            mine: list[Sentence] = []
            for a, b in spans.get(key, []):
                k = max(0, bisect.bisect_right(starts, a) - 2)
                while k < len(passages) and passages[k].start < b:
                    if passages[k].end > a and passages[k].text[max(0, a - passages[k].start):
                                                                 max(0, b - passages[k].start)].strip():
                        ps.setdefault(passages[k].chunk_id, passages[k])
                    k += 1
                mine += sents[bisect.bisect_left(s_starts, a) : bisect.bisect_left(s_starts, b)]
            self._refs(n, list(ps.values()))
            if mine and (not n.children or key == ()):
                self._points(n, [], used, mine)

    # -- clusters --------------------------------------------------------------------------------
    def _clusters(self, node: MindNode, i: int, passages: list[Passage]) -> None:
        n = len(passages)
        k = max(1, min(self.max_clusters, round(math.sqrt(n / 2))))
        if n < 3 or k < 2:
            self._refs(node, passages)
            self._points(node, passages, set())
            return
        if n > MAX_ASSIGN:
            step = n / MAX_ASSIGN
            passages = [passages[int(j * step)] for j in range(MAX_ASSIGN)]
            self.notes.append(f"{node.label}: {MAX_ASSIGN} of its {n} passages were grouped.")
            n = MAX_ASSIGN
        sample_idx = list(range(n)) if n <= MAX_CLUSTER_CHUNKS else [int(j * n / MAX_CLUSTER_CHUNKS)
                                                                     for j in range(MAX_CLUSTER_CHUNKS)]
        dense = self._dense(passages) if self.vectors is not None else None
        if dense is not None:
            vecs: list[Any] = dense
            dot: Callable[[Any, Any], float] = _dense_cos
            mean: Callable[[list[Any]], Any] = _dense_mean
        else:
            idf = self.corpus.idf
            default = max(idf.values(), default=1.0)
            vecs = []
            for p in passages:
                tf = Counter(terms(p.text))
                vecs.append(normalise({t: (1 + math.log(c)) * idf.get(t, default) for t, c in tf.items()}))
            dot, mean = cosine, _sparse_mean
        sample = [vecs[j] for j in sample_idx]
        assign_s = _kmeans(sample, k, dot, mean)
        cents = []
        for j in range(k):
            members = [sample[m] for m in range(len(sample)) if assign_s[m] == j]
            cents.append(mean(members) if members else None)
        live = [j for j in range(k) if cents[j] is not None]
        assign = [_nearest(v, cents, live, dot) for v in vecs]
        groups: dict[int, list[Passage]] = {}
        for p, a in zip(passages, assign, strict=True):
            groups.setdefault(a, []).append(p)
        order = sorted(groups, key=lambda j: groups[j][0].start)
        counters = [_phrases([p.text for p in groups[j][:200]]) for j in order]
        used: set[int] = set()
        for pos, j in enumerate(order):
            phrases = _label(counters, pos)
            label = ", ".join(phrases) if phrases else f"Part {pos + 1}"
            child = MindNode(f"{node.id}.{len(node.children) + 1}", label, "cluster", phrases=phrases)
            self._refs(child, groups[j])
            self._points(child, groups[j], used)
            node.children.append(child)

    def _dense(self, passages: list[Passage]) -> list[list[float]] | None:
        assert self.vectors is not None
        try:
            got = self.vectors([p.chunk_id for p in passages])
        except Exception:  # noqa: BLE001 - an index problem must not cost the map: TF-IDF instead
            got = None
        if got is None or len(got) != len(passages) or not all(len(v) for v in got):
            self.notes.append("Chunk embeddings were not available; passages were grouped by their words.")
            return None
        return [_unit(v) for v in got]


def mind_map(corpus: Corpus, *, title: str = "", points: int = 2, vectors: VectorGetter | None = None,
             max_clusters: int = 7) -> MindMap:
    """The outline of the corpus: root -> sources -> headings (or clusters) -> key sentences.

    With one source the source is the root. ``points``: key sentences under each leaf (0: none).
    ``vectors``: optional chunk-id -> embedding getter, used for clustering instead of TF-IDF."""
    b = _Builder(corpus, max(0, int(points)), vectors, max(2, int(max_clusters)))
    live = [i for i, s in enumerate(corpus.sources) if s.text.strip() and s.passages]
    if len(live) == 1:
        root = b.source_node(live[0], "n")
        if title:
            root.label = title
    else:
        root = MindNode("n", title or "Notebook", "notebook")
        for i in live:
            root.children.append(b.source_node(i, f"n.{len(root.children) + 1}"))
    if not live:
        b.notes.append("The selected sources have no text.")
    root.n_refs = root.n_refs or sum(len(s.passages) for s in corpus.sources)
    return MindMap(title or root.label, root, b.notes)
