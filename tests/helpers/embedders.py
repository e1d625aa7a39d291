"""A deterministic stand-in embedder for tests that need vectors but not meaning (fast, no model)."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence


class HashEmbedder:
    """Unit vectors from each text's SHA-256 (``dim`` ≤ 32 values); ``delay`` seconds per text, to stand in
    for a slow model; ``model_id`` names it (a new id tests the embedding-model-change path)."""

    def __init__(self, model_id: str = "test:hash-embedder:v1", *, dim: int = 16, delay: float = 0.0) -> None:
        self.model_id = model_id
        self.dim = dim
        self.delay = delay

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.delay:
            time.sleep(self.delay * len(texts))
        out = []
        for t in texts:
            v = [b / 255 - 0.5 for b in hashlib.sha256(t.encode()).digest()[: self.dim]]
            n = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / n for x in v])
        return out
