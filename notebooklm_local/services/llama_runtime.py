"""llama.cpp through llama-cpp-python: build/backend introspection, a generation engine, an embedder.

llama.cpp contexts are not thread-safe (llama-cpp-python #471, #1995): every call on one ``Llama``
instance goes through that wrapper's lock. The GUI additionally serialises work on its ``llm`` lane.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.metadata
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.errors import Cancelled, ModelLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.services.gguf import check_gguf_file

__all__ = [
    "BuildInfo",
    "build_info",
    "GenerationResult",
    "LlamaCppEngine",
    "LlamaCppEmbedder",
    "resolve_gpu_layers",
]

log = logging.getLogger(__name__)

# shared-library name fragment -> backend name, as llama.cpp's CMake build names its ggml backends
_GPU_LIBS = {"ggml-cuda": "CUDA", "ggml-metal": "Metal", "ggml-vulkan": "Vulkan", "ggml-hip": "ROCm", "ggml-sycl": "SYCL"}
BUILD_FLAGS_FILE = "notebooklm-llama-build-flags.txt"


@dataclass(frozen=True)
class BuildInfo:
    """What the installed llama-cpp-python was built with and what it can offload to."""

    version: str
    backend: str  # "CPU", "CUDA", "Metal", "Vulkan", ...
    gpu_offload: bool
    reason: str  # why this backend (esp. why no GPU is used)
    system_info: str
    build_flags: str


_native_log = logging.getLogger("notebooklm_local.llama_cpp")
_log_callback: Any = None  # a reference must be kept, or ctypes frees the callback
_native_errors: collections.deque[str] = collections.deque(maxlen=4)


def _quiet_import_llama_cpp() -> Any:
    """Import llama_cpp and route llama.cpp's own log lines to our log file instead of stderr."""
    global _log_callback
    try:
        import llama_cpp
    except ImportError as e:  # pragma: no cover - only on a broken install
        raise ModelLoadError(
            f"llama-cpp-python is not installed or failed to load ({e}). Run scripts/bootstrap.sh."
        ) from e
    if _log_callback is None:
        import ctypes

        # ggml_log_level: 1 debug, 2 info, 3 warn, 4 error. Native warnings are mostly noise for
        # users (e.g. "using full-size SWA cache"): they go to the log file only; native errors are
        # also remembered so that a failed load can quote them in its user-facing message.
        @llama_cpp.llama_log_callback
        def _callback(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            message = text.decode("utf-8", "replace").rstrip()
            if message:
                _native_log.log(logging.INFO if level >= 3 else logging.DEBUG, "%s", message)
                if level == 4:
                    _native_errors.append(message)

        _log_callback = _callback
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    return llama_cpp


def build_info() -> BuildInfo:
    """Inspect the installed llama-cpp-python build (no model needed)."""
    llama_cpp = _quiet_import_llama_cpp()
    version = getattr(llama_cpp, "__version__", None) or importlib.metadata.version("llama-cpp-python")
    libdir = Path(llama_cpp.__file__).parent / "lib"
    libs = [p.name for p in libdir.glob("*")] if libdir.is_dir() else []
    gpu_backends = sorted({name for frag, name in _GPU_LIBS.items() if any(frag in lib for lib in libs)})
    try:
        offload = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # noqa: BLE001 - very old builds lack the symbol
        offload = False
    try:
        sysinfo = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001
        sysinfo = ""
    flags_file = Path(sys.prefix) / BUILD_FLAGS_FILE
    flags = flags_file.read_text(encoding="utf-8").strip() if flags_file.exists() else "unknown (not built by scripts/bootstrap.sh)"
    if offload and gpu_backends:
        backend = "+".join(gpu_backends)
        reason = f"llama.cpp was built with {backend}; model layers are offloaded to the GPU"
    elif gpu_backends:
        backend = "CPU"
        reason = f"built with {'+'.join(gpu_backends)} but no usable GPU device was found; running on the CPU"
    else:
        backend = "CPU"
        reason = (
            "this llama-cpp-python build has no GPU backend (CPU-only build); "
            "rebuild with `scripts/bootstrap.sh --backend cuda` (or metal, vulkan) to use a GPU"
        )
    return BuildInfo(str(version), backend, offload and bool(gpu_backends), reason, sysinfo, flags)


def resolve_gpu_layers(requested: int, info: BuildInfo | None = None) -> int:
    """-1 means auto: all layers when the build can offload, else 0."""
    if requested >= 0:
        return requested
    info = info or build_info()
    return -1 if info.gpu_offload else 0


@dataclass
class GenerationResult:
    """The text of one generation and how it ran."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    prompt_eval_s: float  # time to first token (prompt evaluation)
    generation_s: float  # time from first to last token
    finish_reason: str  # "stop", "length", "cancelled"
    backend: str = "CPU"
    gpu_layers: int = 0
    n_ctx: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.prompt_eval_s if self.prompt_eval_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        # the first token is produced by prompt eval; the rest by generation
        n = max(self.completion_tokens - 1, 0)
        return n / self.generation_s if self.generation_s > 0 else 0.0


def _load_llama(path: Path, **kwargs: Any) -> Any:
    llama_cpp = _quiet_import_llama_cpp()
    check_gguf_file(path)
    _native_errors.clear()
    try:
        return llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
    except (ValueError, RuntimeError, OSError) as e:
        native = "; ".join(_native_errors)
        raise ModelLoadError(
            f"llama.cpp could not load {path.name}: {e}{f' ({native})' if native else ''}. "
            "The file may be corrupt or truncated, its "
            "architecture unsupported by this llama.cpp build, or memory insufficient for "
            f"n_ctx={kwargs.get('n_ctx')}."
        ) from e


class LlamaCppEngine:
    """A lazily loaded GGUF model for text generation (raw completion)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        n_threads: int = 0,
        seed: int = 0,
    ) -> None:
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.requested_gpu_layers = n_gpu_layers
        self.n_threads = n_threads
        self.seed = seed
        self._llm: Any = None
        self._lock = threading.RLock()
        self._info: BuildInfo | None = None

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def backend(self) -> str:
        return (self._info or build_info()).backend

    def load(self) -> Any:
        with self._lock:
            if self._llm is None:
                self._info = build_info()
                self.gpu_layers = resolve_gpu_layers(self.requested_gpu_layers, self._info)
                t0 = time.perf_counter()
                kwargs: dict[str, Any] = {"n_ctx": self.n_ctx, "n_gpu_layers": self.gpu_layers, "seed": self.seed}
                if self.n_threads > 0:
                    kwargs["n_threads"] = self.n_threads
                self._llm = _load_llama(self.path, **kwargs)
                train_ctx = int(self._llm.metadata.get(f"{self.architecture}.context_length", 0) or 0)
                if train_ctx and self.n_ctx > train_ctx:
                    log.warning("n_ctx %d exceeds the model's trained context %d", self.n_ctx, train_ctx)
                log.info(
                    "loaded %s in %.2fs (backend %s, gpu layers %s, n_ctx %d)",
                    self.path.name, time.perf_counter() - t0, self._info.backend, self.gpu_layers, self.n_ctx,
                )
            return self._llm

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.load().metadata)

    @property
    def architecture(self) -> str:
        llm = self._llm
        return str(llm.metadata.get("general.architecture", "unknown")) if llm is not None else "unknown"

    def tokenize(self, text: str) -> list[int]:
        with self._lock:
            return list(self.load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        cancel: CancelToken | None = None,
        grammar: Any = None,
        result: list[GenerationResult] | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as llama.cpp produces them.

        Cancellation takes effect at the next token (llama.cpp's StoppingCriteria is checked once
        per token; prompt evaluation itself cannot be interrupted, llama-cpp-python #599). When
        ``result`` is given, a :class:`GenerationResult` is appended to it at the end.
        """
        llama_cpp = _quiet_import_llama_cpp()
        if cancel is None:
            cancel = CancelToken()
        with self._lock:
            llm = self.load()
            criteria = llama_cpp.StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()])
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            prompt_tokens = len(tokens)
            self._prepare_kv_cache(llm, tokens)
            if prompt_tokens + 1 > self.n_ctx:
                raise ModelLoadError(
                    f"The prompt has {prompt_tokens} tokens but the context holds {self.n_ctx}; shorten it "
                    "or raise the context size in Settings."
                )
            max_tokens = max(1, min(max_tokens, self.n_ctx - prompt_tokens))
            t0 = time.perf_counter()
            t_first: float | None = None
            pieces: list[str] = []
            finish = "stop"
            n_completion = 0
            for chunk in llm.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=list(stop) or None,
                stream=True,
                stopping_criteria=criteria,
                grammar=grammar,
            ):
                if t_first is None:
                    t_first = time.perf_counter()
                choice = chunk["choices"][0]
                piece = choice.get("text") or ""
                if piece or not choice.get("finish_reason"):
                    n_completion += 1  # the closing chunk carries only the finish reason
                if piece:
                    pieces.append(piece)
                    yield piece
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if cancel.is_set():
                    finish = "cancelled"
                    break
            t_end = time.perf_counter()
            if cancel.is_set():
                finish = "cancelled"
            if result is not None:
                result.append(
                    GenerationResult(
                        text="".join(pieces),
                        prompt_tokens=prompt_tokens,
                        completion_tokens=n_completion,
                        prompt_eval_s=(t_first or t_end) - t0,
                        generation_s=t_end - (t_first or t_end),
                        finish_reason=finish,
                        backend=self.backend,
                        gpu_layers=self.gpu_layers,
                        n_ctx=self.n_ctx,
                    )
                )

    @staticmethod
    def _prepare_kv_cache(llm: Any, tokens: Sequence[int]) -> None:
        """Keep the KV cache only when the new prompt extends what it holds; else clear it.

        llama-cpp-python truncates the cache to the longest common prefix with
        ``llama_memory_seq_rm``; on models with a sliding-window (iSWA) cache such as Gemma 3 this
        leaves stale state behind, and the same prompt then gives a different greedy answer
        depending on what ran before (measured on the embedded model). Clearing costs one full
        prompt evaluation; a true extension (the next chat turn) still reuses the prefix.
        """
        n = int(getattr(llm, "n_tokens", 0))
        if n == 0:
            return
        cached = getattr(llm, "_input_ids", None)
        if cached is not None and n <= len(tokens) and list(cached[:n]) == list(tokens[:n]):
            return
        llm.reset()
        llm._ctx.kv_cache_clear()

    def generate(self, prompt: str, *, on_token: Callable[[str], None] | None = None, **kwargs: Any) -> GenerationResult:
        """Run a whole generation; raise :class:`Cancelled` if the token was cancelled."""
        result: list[GenerationResult] = []
        for piece in self.stream(prompt, result=result, **kwargs):
            if on_token is not None:
                on_token(piece)
        res = result[0]
        if res.finish_reason == "cancelled":
            raise Cancelled()
        return res

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                with contextlib.suppress(Exception):
                    self._llm.close()
                self._llm = None


class LlamaCppEmbedder:
    """Sentence embeddings from a GGUF model: mean pooling, L2-normalised.

    Each text is decoded on its own (cut to ``max_tokens``, at most the model's trained context).
    Packing several texts into one llama.cpp batch is slower on the CPU, not faster: the attention
    of a packed batch spans all its tokens (masked, but computed), so its cost grows with the square
    of the batch. Measured with MiniLM on 2 cores (bench/bench_embed.py): one text per decode
    3.9k tokens/s, packed 512-token batches 2.9k, packed 2048-token batches 1.0k.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, n_ctx: int = 512, max_tokens: int = 512, n_threads: int = 0,
        n_gpu_layers: int = -1,
    ) -> None:
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.max_tokens = min(max_tokens, n_ctx)
        self.n_threads = n_threads
        self.requested_gpu_layers = n_gpu_layers
        self._llm: Any = None
        self._lock = threading.RLock()
        self._dim: int | None = None

    @property
    def model_id(self) -> str:
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return f"llama.cpp:{self.path.name}:{size}"

    def load(self) -> Any:
        with self._lock:
            if self._llm is None:
                llama_cpp = _quiet_import_llama_cpp()
                kwargs: dict[str, Any] = {
                    "embedding": True,
                    "pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    "n_ctx": self.n_ctx,
                    "n_batch": self.n_ctx,
                    "n_ubatch": self.n_ctx,
                    "n_gpu_layers": resolve_gpu_layers(self.requested_gpu_layers),
                }
                if self.n_threads > 0:
                    kwargs["n_threads"] = self.n_threads
                self._llm = _load_llama(self.path, **kwargs)
                arch = self._llm.metadata.get("general.architecture", "")
                train_ctx = int(self._llm.metadata.get(f"{arch}.context_length", 0) or 0)
                if train_ctx:
                    self.max_tokens = min(self.max_tokens, train_ctx)
            return self._llm

    @property
    def dimension(self) -> int:
        if self._dim is None:
            self._dim = len(self.embed(["dimension probe"])[0])
        return self._dim

    def _fit(self, llm: Any, text: str) -> str:
        if not text.strip():
            return " "
        if len(text) < self.max_tokens * 2:  # cannot exceed the limit: at least 1 char per token... x2 margin
            return text
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        limit = self.max_tokens - 4  # room for BOS/EOS/CLS/SEP
        if len(tokens) <= limit:
            return text
        return llm.detokenize(tokens[:limit]).decode("utf-8", "ignore")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts (each cut to the model's context); returns unit vectors."""
        if not texts:
            return []
        with self._lock:
            llm = self.load()
            vectors = [llm.embed(self._fit(llm, t), normalize=True, truncate=True) for t in texts]
        out = [list(map(float, v)) for v in vectors]
        if out:
            self._dim = len(out[0])
        return out

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                with contextlib.suppress(Exception):
                    self._llm.close()
                self._llm = None
