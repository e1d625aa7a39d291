"""The semantic signal of the grounding check (``core/grounding.py``): a ``similarity(claim, sentences)``
callable over the app's embedder (the built-in MiniLM), with a small cache so that a passage's sentences
are embedded once per answer or studio run, not once per claim."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.grounding import Similarity

if TYPE_CHECKING:
    import numpy as np

__all__ = ["embedder_similarity", "similarity_for"]

log = logging.getLogger(__name__)


def embedder_similarity(embedder: Any, cache_size: int = 4096) -> Similarity:
    """Cosine similarity of a claim with each of ``sentences``, from ``embedder.embed(texts)``.

    Texts are embedded once (an LRU cache of ``cache_size`` vectors). A failing embedder raises; the
    checker then falls back to word overlap alone.
    """
    import numpy as np  # not at import time: this module is on the window's start path (cold start)

    cache: OrderedDict[str, np.ndarray] = OrderedDict()
    lock = threading.Lock()

    def vectors(texts: Sequence[str]) -> list[np.ndarray]:
        with lock:
            todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            new = embedder.embed(todo)
            with lock:
                for t, v in zip(todo, new, strict=True):
                    a = np.asarray(v, dtype=np.float32)
                    n = float(np.linalg.norm(a))
                    cache[t] = a / n if n > 0 else a
                    while len(cache) > cache_size:
                        cache.popitem(last=False)
        with lock:
            out = []
            for t in texts:
                v = cache.get(t)
                if v is None:  # evicted meanwhile (a tiny cache): embed again
                    v = np.asarray(embedder.embed([t])[0], dtype=np.float32)
                    v = v / max(float(np.linalg.norm(v)), 1e-12)
                else:
                    cache.move_to_end(t)
                out.append(v)
            return out

    def similarity(claim: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        vs = vectors([claim, *sentences])
        c = vs[0]
        return [float(np.dot(c, v)) for v in vs[1:]]

    return similarity


def similarity_for(library: Any) -> Similarity | None:
    """The similarity over a library service's embedder, or None when it has none (lexical checks only)."""
    index = getattr(library, "index", None)
    embedder = getattr(index, "embedder", None) if index is not None else None
    if embedder is None or not hasattr(embedder, "embed"):
        return None
    return embedder_similarity(embedder)
