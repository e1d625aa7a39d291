"""llama.cpp through llama-cpp-python: build/backend introspection, a generation engine, an embedder.

llama.cpp contexts are not thread-safe (llama-cpp-python #471, #1995): every call on one ``Llama``
instance goes through that wrapper's lock. The GUI additionally serialises work on its ``llm`` lane.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.metadata
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebooklm_local.core.errors import Cancelled, ModelLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, EngineInfo, Generation, GenerationResult
from notebooklm_local.services.chat_format import ChatFormat, choose_chat_format
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
    from notebooklm_local.services.native_imports import import_serialized

    try:
        llama_cpp = import_serialized("llama_cpp")
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


def _load_llama(path: Path, **kwargs: Any) -> Any:
    llama_cpp = _quiet_import_llama_cpp()
    check_gguf_file(path)
    _native_errors.clear()
    try:
        return llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
    except (ValueError, RuntimeError, OSError, MemoryError) as e:
        raise ModelLoadError(_explain_load_failure(path, e, kwargs.get("n_ctx"))) from e


def _explain_load_failure(path: Path, error: BaseException, n_ctx: Any) -> str:
    """Turn llama.cpp's native error lines into one message a user can act on."""
    native = " ".join(_native_errors)
    low = native.lower()
    if "unknown model architecture" in low or "unsupported model architecture" in low:
        arch = native.split("architecture", 1)[1].strip(" :'\"").split("'")[0] if "architecture" in native else "?"
        return (
            f"{path.name} uses the model architecture '{arch}', which this llama.cpp build does not support. "
            "Update llama-cpp-python (scripts/bootstrap.sh) or choose another model."
        )
    if any(k in low for k in ("failed to allocate", "out of memory", "unable to allocate", "cudamalloc failed")) or isinstance(
        error, MemoryError
    ):
        return (
            f"Not enough memory to load {path.name} with a context of {n_ctx} tokens. "
            "Lower the context size or GPU layers in Settings, or choose a smaller (more quantized) model."
        )
    if any(k in low for k in ("tensor", "data is not within the file bounds", "failed to read", "invalid magic", "gguf")):
        return f"{path.name} is corrupt or truncated: llama.cpp could not read it ({native or error}). Download it again."
    return (
        f"llama.cpp could not load {path.name}: {error}{f' ({native})' if native else ''}. The file may be "
        f"corrupt or truncated, its architecture unsupported by this llama.cpp build, or memory insufficient "
        f"for n_ctx={n_ctx}."
    )


class LlamaCppEngine:
    """A lazily loaded GGUF chat model (implements :class:`notebooklm_local.core.llm.Engine`).

    One generation at a time: every call holds the engine's lock. Prompts are written by the
    model's chat format (GGUF template, family fallback or raw completion, see ``chat_format.py``).
    The KV state after the static prompt prefix (the system prompt) is kept, so that the next turn
    evaluates only what changed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        n_threads: int = 0,
        seed: int = 0,
        flash_attn: str = "auto",
        chat_format: str = "auto",
    ) -> None:
        self.path = Path(path)
        self._n_ctx = n_ctx
        self.requested_gpu_layers = n_gpu_layers
        self.gpu_layers = 0
        self.n_threads = n_threads
        self.seed = seed
        self.flash_attn_setting = flash_attn
        self.flash_attn = False
        self.chat_format_setting = chat_format
        self._format: ChatFormat | None = None
        self._llm: Any = None
        self._lock = threading.RLock()
        self._info: BuildInfo | None = None
        self._snapshots: list[_PrefixState] = []  # KV states after static prompt prefixes, newest last
        self._grammars: dict[str, Any] = {}
        self.train_ctx = 0

    # -- loading -----------------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def backend(self) -> str:
        return (self._info or build_info()).backend

    def load(self) -> Any:
        with self._lock:
            if self._llm is None:
                self._load()
            return self._llm

    def _load(self) -> None:
        self._info = build_info()
        self.gpu_layers = resolve_gpu_layers(self.requested_gpu_layers, self._info)
        fa = self.flash_attn_setting.lower()
        self.flash_attn = fa in ("on", "true", "1") or (fa == "auto" and self._info.gpu_offload)
        self._check_context_before_load()
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {
            "n_ctx": self._n_ctx, "n_gpu_layers": self.gpu_layers, "seed": self.seed, "flash_attn": self.flash_attn,
        }
        if self.n_threads > 0:
            kwargs["n_threads"] = self.n_threads
            kwargs["n_threads_batch"] = self.n_threads
        llm = _load_llama(self.path, **kwargs)
        arch = str(llm.metadata.get("general.architecture", "unknown"))
        self.train_ctx = int(llm.metadata.get(f"{arch}.context_length", 0) or 0)
        if self.train_ctx and self._n_ctx > self.train_ctx:
            with contextlib.suppress(Exception):
                llm.close()
            raise self._context_too_large(self.train_ctx)
        meta = dict(llm.metadata)
        with contextlib.suppress(Exception):
            meta["_eos_text"] = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore")
            meta["_bos_text"] = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore")
        try:
            self._format = choose_chat_format(self.chat_format_setting, meta, self.path.name)
        except ModelLoadError:
            with contextlib.suppress(Exception):
                llm.close()
            raise
        self._llm = llm
        self._snapshots = []
        log.info(
            "loaded %s in %.2fs (backend %s, gpu layers %s, n_ctx %d, flash attention %s, chat format %s)",
            self.path.name, time.perf_counter() - t0, self._info.backend, self.gpu_layers, self._n_ctx,
            self.flash_attn, self._format.name,
        )

    def _check_context_before_load(self) -> None:
        """Refuse a context the model does not support before llama.cpp allocates it (GGUF header: ~ms)."""
        from notebooklm_local.services.model_manager import read_model_info

        check_gguf_file(self.path)
        try:
            train_ctx = read_model_info(self.path).context_length or 0
        except ModelLoadError:
            raise
        except Exception:  # noqa: BLE001 - the load itself will report what is wrong
            return
        if train_ctx and self._n_ctx > train_ctx:
            raise self._context_too_large(train_ctx)

    def _context_too_large(self, train_ctx: int) -> ModelLoadError:
        return ModelLoadError(
            f"The context size {self._n_ctx} is larger than {self.path.name} supports ({train_ctx} tokens). "
            f"Set the context size to {train_ctx} or less in Settings."
        )

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.load().metadata)

    @property
    def architecture(self) -> str:
        llm = self._llm
        return str(llm.metadata.get("general.architecture", "unknown")) if llm is not None else "unknown"

    @property
    def chat_format(self) -> ChatFormat:
        self.load()
        assert self._format is not None
        return self._format

    def info(self) -> EngineInfo:
        """How the model runs (loads it first: the chat format and layer count need the model)."""
        self.load()
        info = self._info or build_info()
        offloaded = 0
        if self._llm is not None and self.gpu_layers:
            n_layer = int(self._llm.metadata.get(f"{self.architecture}.block_count", 0) or 0)
            offloaded = n_layer + 1 if self.gpu_layers < 0 else min(self.gpu_layers, n_layer + 1)
        return EngineInfo(
            kind="llama.cpp",
            model=self.path.name,
            backend=info.backend,
            gpu_layers=offloaded,
            n_ctx=self._n_ctx,
            chat_format=self._format.name if self._format else "",
            flash_attn=self.flash_attn,
            extra={"train_ctx": self.train_ctx, "reason": info.reason},
        )

    # -- tokens --------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        with self._lock:
            return list(self.load().tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        return self.chat_format(messages)

    def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> int:
        fmt = self.chat_format
        return len(self.tokenize(fmt(messages), add_bos=fmt.add_bos, special=True))

    # -- generation ----------------------------------------------------------------------------

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        cancel: CancelToken | None = None,
        json_schema: dict[str, Any] | None = None,
        static_prefix: int = 0,
    ) -> Generation:
        return Generation(self._chat_tokens(messages, max_tokens, temperature, stop, cancel, json_schema, static_prefix))

    def _chat_tokens(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float, stop: Sequence[str],
        cancel: CancelToken | None, json_schema: dict[str, Any] | None, static_prefix: int,
    ) -> Generator[str, None, GenerationResult]:
        with self._lock:
            fmt = self.chat_format
            prompt = fmt(messages)
            prefix_text = _static_prefix_text(fmt, messages, static_prefix, prompt) if static_prefix else ""
            grammar = self._grammar(json_schema) if json_schema else None
            stops = list(dict.fromkeys([*fmt.stop, *stop])) if not json_schema else list(stop)
            return (yield from self._stream_tokens(
                prompt, add_bos=fmt.add_bos, max_tokens=max_tokens, temperature=temperature, stop=stops,
                cancel=cancel, grammar=grammar, prefix_text=prefix_text,
            ))

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        cancel: CancelToken | None = None,
        grammar: Any = None,
    ) -> Generation:
        """Raw completion of ``prompt`` (no chat format): a :class:`Generation` of text pieces."""
        return Generation(self._raw_tokens(prompt, max_tokens, temperature, stop, cancel, grammar))

    def _raw_tokens(
        self, prompt: str, max_tokens: int, temperature: float, stop: Sequence[str], cancel: CancelToken | None,
        grammar: Any,
    ) -> Generator[str, None, GenerationResult]:
        with self._lock:
            return (yield from self._stream_tokens(
                prompt, add_bos=True, max_tokens=max_tokens, temperature=temperature, stop=list(stop),
                cancel=cancel, grammar=grammar, prefix_text="",
            ))

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            llama_cpp = _quiet_import_llama_cpp()
            try:
                self._grammars[key] = llama_cpp.LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as e:  # llama.cpp's converter raises assorted errors
                raise ModelLoadError(f"The JSON schema could not be turned into a grammar: {e}") from e
        return self._grammars[key]

    def _stream_tokens(
        self,
        prompt: str,
        *,
        add_bos: bool,
        max_tokens: int,
        temperature: float,
        stop: list[str],
        cancel: CancelToken | None,
        grammar: Any,
        prefix_text: str,
    ) -> Generator[str, None, GenerationResult]:
        """Yield text pieces as llama.cpp produces them; return the report.

        Cancellation takes effect at the next token (llama.cpp's StoppingCriteria is checked once
        per token); a cancel set before the call returns before prompt evaluation.
        """
        llama_cpp = _quiet_import_llama_cpp()
        cancel = cancel or CancelToken()
        llm = self.load()
        t0 = time.perf_counter()
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        prompt_tokens = len(tokens)
        if prompt_tokens + 1 > self._n_ctx:
            raise ModelLoadError(
                f"The prompt has {prompt_tokens} tokens but the context holds {self._n_ctx}; shorten it "
                "or raise the context size in Settings."
            )
        if cancel.is_set():
            return self._report("", prompt_tokens, 0, 0.0, 0.0, "cancelled", 0)
        cached = self._prepare_cache(llm, tokens, prefix_text, add_bos, cancel)
        # Evaluate the rest of the prompt (all but its last token, which create_completion evaluates) in
        # slices: llama.cpp cannot be interrupted inside one decode, so Stop and closing the app take effect
        # within one slice (~0.5 s on 2 CPU cores) instead of after the whole prompt.
        done, end = int(getattr(llm, "n_tokens", 0)), prompt_tokens - 1
        while done < end:
            if cancel.is_set():
                return self._report("", prompt_tokens, 0, time.perf_counter() - t0, 0.0, "cancelled", cached)
            step = min(PROMPT_SLICE_TOKENS, end - done)
            llm.eval(tokens[done:done + step])
            done += step
        criteria = llama_cpp.StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()])
        max_tokens = max(1, min(max_tokens, self._n_ctx - prompt_tokens))
        t_first: float | None = None
        pieces: list[str] = []
        finish = "stop"
        n_completion = 0
        for chunk in llm.create_completion(
            tokens,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop or None,
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
        return self._report(
            "".join(pieces), prompt_tokens, n_completion, (t_first or t_end) - t0, t_end - (t_first or t_end),
            finish, cached,
        )

    def _report(
        self, text: str, prompt_tokens: int, completion_tokens: int, prompt_eval_s: float, generation_s: float,
        finish: str, cached: int,
    ) -> GenerationResult:
        return GenerationResult(
            text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            prompt_eval_s=prompt_eval_s, generation_s=generation_s, finish_reason=finish,
            backend=self.backend, gpu_layers=self.info().gpu_layers, n_ctx=self._n_ctx,
            cached_prompt_tokens=cached,
        )

    def _prepare_cache(self, llm: Any, tokens: Sequence[int], prefix_text: str, add_bos: bool,
                       cancel: CancelToken | None = None) -> int:
        """Set the KV cache up for ``tokens``; return how many prompt tokens it already holds.

        1. The cache holds a prefix of the new prompt (a continuation): keep it.
        2. The static prefix (system prompt, then the chat's earlier turns) starts with a saved
           snapshot: restore the longest such snapshot, evaluate the rest of the prefix, snapshot it.
        3. Else clear the cache; when a static prefix is named, evaluate it first and snapshot it.

        llama-cpp-python would truncate the cache to the longest common prefix instead; on models
        with a sliding-window (iSWA) cache such as Gemma 3 that leaves stale state behind (the same
        greedy prompt then answered differently depending on what ran before — measured on the
        embedded model), so a cache is only ever reused whole, or restored from a snapshot.

        The prefix is evaluated in slices like the rest of the prompt, so that ``cancel`` (Stop, closing the
        window) takes effect within one slice; a prefix left half-read is not snapshotted (the cache then
        holds a true prefix of this prompt, which case 1 reuses for the same question).
        """
        n = int(getattr(llm, "n_tokens", 0))
        if n and n < len(tokens) and list(llm.input_ids[:n]) == list(tokens[:n]):
            return n
        prefix_tokens: list[int] = []
        if prefix_text:
            pt = llm.tokenize(prefix_text.encode("utf-8"), add_bos=add_bos, special=True)
            # tokenization can differ at the seam: keep the part both tokenizations share, minus one token
            k = 0
            for a, b in zip(pt, tokens, strict=False):
                if a != b:
                    break
                k += 1
            k -= 1
            if k >= _MIN_PREFIX_TOKENS and k < len(tokens) - 1:
                prefix_tokens = list(tokens[:k])
        best = None
        if prefix_tokens:
            for snap in self._snapshots:  # the longest snapshot the new prefix starts with
                n_snap = len(snap.tokens)
                if n_snap <= len(prefix_tokens) and prefix_tokens[:n_snap] == snap.tokens:
                    if best is None or n_snap > len(best.tokens):
                        best = snap
        if best is not None and best.restore(llm):
            restored = len(best.tokens)
            if restored < len(prefix_tokens) and _eval_sliced(llm, prefix_tokens[restored:], cancel):
                self._remember(_PrefixState.save(llm, prefix_tokens))
            return restored
        llm.reset()
        llm._ctx.kv_cache_clear()
        if prefix_tokens and _eval_sliced(llm, prefix_tokens, cancel):
            self._remember(_PrefixState.save(llm, prefix_tokens))
        return 0

    def _remember(self, snap: _PrefixState | None) -> None:
        if snap is None:
            return
        self._snapshots = [s for s in self._snapshots if s.tokens != snap.tokens][-(_MAX_SNAPSHOTS - 1):] + [snap]

    def generate(self, prompt: str, *, on_token: Callable[[str], None] | None = None, **kwargs: Any) -> GenerationResult:
        """Run a whole raw completion; raise :class:`Cancelled` if the token was cancelled."""
        gen = self.stream(prompt, **kwargs)
        for piece in gen:
            if on_token is not None:
                on_token(piece)
        res = gen.result()
        if res.finish_reason == "cancelled":
            raise Cancelled()
        return res

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                with contextlib.suppress(Exception):
                    self._llm.close()
                self._llm = None
                self._snapshots = []


_MIN_PREFIX_TOKENS = 16
_MAX_SNAPSHOTS = 2  # e.g. the bare system prompt (new sessions) and system + history (the current chat)


def _static_prefix_text(fmt: ChatFormat, messages: Sequence[ChatMessage], n_static: int, prompt: str) -> str:
    """The part of ``prompt`` written by the first ``n_static`` messages and nothing after them.

    Rendered twice with two different probe messages after the static ones; the text both renders
    share (and the real prompt starts with) cannot depend on anything but the static messages.
    """
    static = list(messages[:n_static])
    if not static:
        return ""
    try:
        a = fmt([*static, ChatMessage("user", "\x01probe-a")])
        b = fmt([*static, ChatMessage("user", "\x02probe-b")])
    except Exception:  # noqa: BLE001 - a template that refuses the probe: no prefix reuse
        return ""
    common = os.path.commonprefix([a, b, prompt])
    return common


@dataclass
class _PrefixState:
    """A snapshot of the llama.cpp context right after the static prompt prefix.

    llama-cpp-python's own ``save_state`` also copies the logits of every cached token (262k floats
    per token for Gemma 3: half a gigabyte for a 500-token prefix); only the KV state is needed here,
    since the prompt's last token is always evaluated again.
    """

    tokens: list[int]
    data: bytes

    @classmethod
    def save(cls, llm: Any, tokens: list[int]) -> _PrefixState | None:
        llama_cpp = _quiet_import_llama_cpp()
        import ctypes

        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buf = (ctypes.c_uint8 * int(size))()
        n = llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size)
        if not n or int(n) > int(size):
            return None
        return cls(tokens, bytes(memoryview(buf)[: int(n)]))

    def restore(self, llm: Any) -> bool:
        llama_cpp = _quiet_import_llama_cpp()
        import ctypes

        buf = (ctypes.c_uint8 * len(self.data)).from_buffer_copy(self.data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(self.data)) != len(self.data):
            return False
        n = len(self.tokens)
        llm.input_ids[:n] = self.tokens
        llm.n_tokens = n
        llm._requires_eval = True
        return True

PROMPT_SLICE_TOKENS = 128  # prompt evaluation granularity for cancellation (see LlamaCppEngine._stream)


def _eval_sliced(llm: Any, tokens: Sequence[int], cancel: CancelToken | None) -> bool:
    """Evaluate ``tokens`` PROMPT_SLICE_TOKENS at a time; False when ``cancel`` was set before all were read."""
    for i in range(0, len(tokens), PROMPT_SLICE_TOKENS):
        if cancel is not None and cancel.is_set():
            return False
        llm.eval(tokens[i:i + PROMPT_SLICE_TOKENS])
    return not (cancel is not None and cancel.is_set())


class _Slot:
    """One llama.cpp context of an embedder: its batch, abort callback and a fair owner lock.

    A single text (a search query) asks with ``priority``: it gets the context as soon as the text
    being decoded there is done, ahead of the ingestion workers waiting for their next text.
    """

    def __init__(self, ctx: Any, batch: Any) -> None:
        self.ctx, self.batch = ctx, batch
        self.abort: Callable[[], bool] | None = None  # the holder's cancel check (read inside llama.cpp)
        self.cb: Any = None  # the ctypes abort callback, kept alive as long as the context
        self._cond = threading.Condition()
        self._busy = False
        self._priority_waiting = 0

    def should_abort(self, _data: Any) -> bool:
        abort = self.abort
        return abort is not None and abort()

    @contextlib.contextmanager
    def hold(self, *, priority: bool = False) -> Iterator[_Slot]:
        with self._cond:
            if priority:
                self._priority_waiting += 1
                try:
                    while self._busy:
                        self._cond.wait()
                finally:
                    self._priority_waiting -= 1
            else:
                while self._busy or self._priority_waiting:
                    self._cond.wait()
            self._busy = True
        try:
            yield self
        finally:
            with self._cond:
                self._busy = False
                self.abort = None
                self._cond.notify_all()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.batch.close()
        with contextlib.suppress(Exception):
            self.ctx.close()


MAX_EMBED_CONTEXTS = 4  # more contexts than this gain nothing measurable for embedding on a desktop CPU


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LlamaCppEmbedder:
    """Sentence embeddings from a GGUF model: mean pooling, L2-normalised.

    Each text is decoded on its own (cut to ``max_tokens``, at most the model's trained context).
    Packing several texts into one llama.cpp batch is slower on the CPU, not faster: the attention
    of a packed batch spans all its tokens (masked, but computed), so its cost grows with the square
    of the batch. Measured with MiniLM on 2 cores (bench/bench_embed.py): one text per decode
    3.9k tokens/s, packed 512-token batches 2.9k, packed 2048-token batches 1.0k.

    On the CPU several texts are decoded at once, each on its own llama.cpp context (``contexts``
    contexts sharing the model's weights; auto: one per core, at most MAX_EMBED_CONTEXTS, the cores
    shared out: one thread each on 2 cores). For a small model this beats one context with all the threads by ~1.6x on
    2 cores: a decode of one 170-token text is a few hundred small graph nodes, and a multi-threaded
    context synchronises its threads after each of them (and spin-waits when another process holds a
    core). Flash attention (auto: on where llama.cpp supports it) adds ~1.2x. Vectors are the same
    (cosine 1.00000 vs one plain context). With GPU offload one context is used. A single text (a
    search query) runs on the first context, ahead of queued ingestion texts, with that context's
    threads: on a busy machine two threads made a query ~20x slower (p50 1.3 s vs 68 ms, spin-waits).

    ``contexts=1, flash_attn=False`` is the plain single-context path (llama-cpp-python's defaults):
    the peer pipeline of bench/bench_ingest.py uses it.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, n_ctx: int = 512, max_tokens: int = 512, n_threads: int = 0,
        n_gpu_layers: int = -1, contexts: int = 0, flash_attn: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.max_tokens = min(max_tokens, n_ctx)
        self.n_threads = n_threads
        self.requested_gpu_layers = n_gpu_layers
        self.requested_contexts = contexts
        self.flash_attn = flash_attn  # None: llama.cpp decides (on where supported)
        self._llm: Any = None
        self._lock = threading.RLock()  # loading, closing and creating contexts
        self._slots: list[_Slot] = []
        self._n_contexts = 1
        self._dim: int | None = None

    supports_cancel = True  # embed(texts, cancel=token) stops inside llama.cpp's decode
    supports_stream = True  # embed_stream(): vectors in order while the next texts are decoded

    @property
    def model_id(self) -> str:
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return f"llama.cpp:{self.path.name}:{size}"

    @property
    def contexts(self) -> int:
        """How many texts are decoded at once (known once loaded)."""
        return self._n_contexts

    def load(self) -> Any:
        with self._lock:
            if self._llm is None:
                llama_cpp = _quiet_import_llama_cpp()
                gpu_layers = resolve_gpu_layers(self.requested_gpu_layers)
                total = self.n_threads if self.n_threads > 0 else _cpu_count()
                n = self.requested_contexts
                if n <= 0:
                    n = 1 if gpu_layers != 0 else max(1, min(total, MAX_EMBED_CONTEXTS))
                kwargs: dict[str, Any] = {
                    "embedding": True,
                    "pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    "n_ctx": self.n_ctx,
                    "n_batch": self.n_ctx,
                    "n_ubatch": self.n_ctx,
                    "n_gpu_layers": gpu_layers,
                }
                if self.flash_attn:
                    kwargs["flash_attn"] = True
                if self.n_threads > 0:
                    kwargs["n_threads"] = self.n_threads
                llm = _load_llama(self.path, **kwargs)
                if self.flash_attn is None:  # auto for the contexts made below; the first one is remade
                    llm.context_params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
                self._llm = llm
                self._n_contexts = n
                self._slots = []
                try:
                    for _ in range(n if (n > 1 or self.flash_attn is None) else 0):
                        self._slots.append(self._new_slot(llama_cpp, threads=max(1, total // n) if n > 1 else 0))
                except Exception as e:  # noqa: BLE001 - memory for another context: fewer contexts
                    log.warning("embedder: %d of %d llama.cpp contexts could be made (%s)", len(self._slots), n, e)
                if not self._slots:  # the Llama's own context
                    self._slots = [self._own_slot(llama_cpp)]
                else:  # free the unused one now (its compute buffers)
                    with contextlib.suppress(Exception):
                        llm._ctx.close()
                        llm._batch.close()
                self._n_contexts = len(self._slots)
                arch = llm.metadata.get("general.architecture", "")
                train_ctx = int(llm.metadata.get(f"{arch}.context_length", 0) or 0)
                if train_ctx:
                    self.max_tokens = min(self.max_tokens, train_ctx)
            return self._llm

    def _own_slot(self, llama_cpp: Any) -> _Slot:
        slot = _Slot(self._llm._ctx, self._llm._batch)
        self._set_abort(llama_cpp, slot)
        return slot

    def _new_slot(self, llama_cpp: Any, *, threads: int) -> _Slot:
        import ctypes

        from llama_cpp import _internals

        llm = self._llm
        params = llama_cpp.llama_context_default_params()
        ctypes.memmove(ctypes.byref(params), ctypes.byref(llm.context_params), ctypes.sizeof(params))
        if threads > 0:
            params.n_threads = params.n_threads_batch = threads
        ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        batch = _internals.LlamaBatch(n_tokens=llm.n_batch, embd=0, n_seq_max=1, verbose=False)
        slot = _Slot(ctx, batch)
        self._set_abort(llama_cpp, slot)
        return slot

    @staticmethod
    def _set_abort(llama_cpp: Any, slot: _Slot) -> None:
        # llama.cpp asks this between graph nodes: a cancelled embed stops inside the decode (one
        # 800-character chunk takes ~0.6 s with Gemma 3 270M on 2 cores; ~45 ms with the built-in
        # MiniLM), not after it
        with contextlib.suppress(Exception):
            cb = llama_cpp.ggml_abort_callback(slot.should_abort)
            llama_cpp.llama_set_abort_callback(slot.ctx.ctx, cb, None)
            slot.cb = cb

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

    def _decode(self, slot: _Slot, llm: Any, text: str) -> list[float]:
        """One text on one context (the caller holds the slot): the pooled, normalised vector."""
        import math

        llama_cpp = _quiet_import_llama_cpp()
        tokens = llm.tokenize(self._fit(llm, text).encode("utf-8"))[: llm.n_batch]  # as Llama.embed does
        batch = slot.batch
        batch.reset()
        batch.add_sequence(tokens, 0, True)
        slot.ctx.kv_cache_clear()
        slot.ctx.decode(batch)
        n_embd = llm.n_embd()
        vec = llama_cpp.llama_get_embeddings_seq(slot.ctx.ctx, 0)[:n_embd]
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm > 0 else list(vec)

    def _embed_one(self, slot: _Slot, llm: Any, text: str, abort: Callable[[], bool]) -> list[float]:
        slot.abort = abort
        try:
            return self._decode(slot, llm, text)
        except RuntimeError:
            if abort():
                raise Cancelled() from None  # llama_decode aborted by the callback
            raise
        finally:
            slot.abort = None

    def embed(self, texts: Sequence[str], cancel: CancelToken | None = None,
              on_each: Callable[[int], None] | None = None) -> list[list[float]]:
        """Embed texts (each cut to the model's context); returns unit vectors.

        ``on_each(n)`` is called in the caller's thread after each of the ``n`` first vectors is ready
        (exact per-text progress while several texts are decoded at once).

        Raises:
            Cancelled: ``cancel`` was set (checked between texts and inside llama.cpp's decode).
        """
        if not texts:
            return []
        llm = self.load()
        if len(texts) == 1 or self._n_contexts == 1:
            out = []
            slot = self._slots[0]
            abort = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
            for t in texts:
                if cancel is not None:
                    cancel.raise_if_set()
                with slot.hold(priority=True):
                    out.append(self._embed_one(slot, llm, t, abort))
                if on_each is not None:
                    on_each(len(out))
        else:
            out = []
            for v in self.embed_stream(texts, cancel=cancel):
                out.append(v)
                if on_each is not None:
                    on_each(len(out))
        if out:
            self._dim = len(out[0])
        return out

    def embed_stream(self, texts: Iterable[str], cancel: CancelToken | None = None,
                     lookahead: int = 0) -> Iterator[list[float]]:
        """Vectors of ``texts`` in order, each as soon as it and those before it are done.

        The texts are read lazily (in the caller's thread, at most ``lookahead`` ahead of the last
        vector handed out; default 4 per context) and decoded on all contexts at once, so the caller
        can store the vectors it got while the next texts are being decoded. Closing the iterator
        early stops the decodes in flight.

        Raises:
            Cancelled: ``cancel`` was set (checked between texts and inside llama.cpp's decode).
        """
        import queue

        llm = self.load()
        slots = list(self._slots)
        lookahead = lookahead or 4 * len(slots)
        stop = threading.Event()

        def abort() -> bool:
            return stop.is_set() or (cancel is not None and cancel.is_set())

        work: queue.Queue[tuple[int, str] | None] = queue.Queue()
        done: queue.Queue[tuple[int, Any, BaseException | None]] = queue.Queue()

        def worker(slot: _Slot) -> None:
            while True:
                item = work.get()
                if item is None or abort():
                    return
                i, text = item
                try:
                    with slot.hold():
                        vec = self._embed_one(slot, llm, text, abort)
                except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                    done.put((i, None, e))
                    return
                done.put((i, vec, None))

        threads = [threading.Thread(target=worker, args=(s,), name=f"embed {k}", daemon=True)
                   for k, s in enumerate(slots)]
        for th in threads:
            th.start()
        it = iter(texts)
        sent = 0
        exhausted = False
        ready: dict[int, Any] = {}
        try:
            nxt = 0
            while True:
                while not exhausted and sent < nxt + lookahead:
                    if cancel is not None:
                        cancel.raise_if_set()
                    try:
                        text = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    work.put((sent, text))
                    sent += 1
                if exhausted and nxt >= sent:
                    return
                while nxt not in ready:
                    try:
                        i, vec, err = done.get(timeout=0.1)
                    except queue.Empty:
                        if cancel is not None:
                            cancel.raise_if_set()
                        if not any(th.is_alive() for th in threads):
                            raise RuntimeError("embedding workers stopped unexpectedly") from None
                        continue
                    if err is not None:
                        if isinstance(err, Cancelled) or (cancel is not None and cancel.is_set()):
                            raise Cancelled() from None
                        raise err
                    ready[i] = vec
                vec = ready.pop(nxt)
                nxt += 1
                if self._dim is None:
                    self._dim = len(vec)
                yield vec
        finally:
            stop.set()
            for _ in threads:
                work.put(None)
            for th in threads:
                th.join()

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                for slot in self._slots:
                    if slot.ctx is not self._llm._ctx:
                        slot.close()
                self._slots = []
                with contextlib.suppress(Exception):
                    self._llm.close()
                self._llm = None
