"""``notebooklm-local doctor``: what is installed, what runs where, and why."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notebooklm_local import __version__
from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings
from notebooklm_local.services.models import DEFAULT_MODEL_NAME, default_embedder_path, embedder_choice, find_models

__all__ = ["doctor_report", "format_report", "tts_engines", "set_plugins_report"]

PluginsReport = Callable[[AppPaths, Settings], list[dict[str, Any]]]
_plugins_report: PluginsReport | None = None

# name -> executables that provide it, in order of preference
_TTS_BINARIES = {"espeak-ng": ("espeak-ng", "espeak"), "piper": ("piper",)}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def tts_engines() -> dict[str, str]:
    """Local TTS engines that can run: name -> executable (espeak-ng must also answer --version)."""
    from notebooklm_local.services.tts.espeak import EspeakEngine

    found: dict[str, str] = {}
    for name, binaries in _TTS_BINARIES.items():
        for b in binaries:
            path = shutil.which(b)
            if path and (name != "espeak-ng" or EspeakEngine(b).unavailable_reason() is None):
                found[name] = path
                break
    return found


def set_plugins_report(func: PluginsReport | None) -> None:
    """How doctor lists plugins: the extensions layer provides it (services cannot import extensions).

    ``func(paths, settings)`` returns one dict per plugin (id, name, version, state, source, reason).
    """
    global _plugins_report
    _plugins_report = func


def _plugins(paths: AppPaths, settings: Settings) -> list[dict[str, Any]] | None:
    if _plugins_report is None:
        return None
    try:
        return _plugins_report(paths, settings)
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        return [{"id": "?", "name": "", "version": "", "state": "error", "source": "", "reason": f"cannot list: {e}"}]


def _embedder(paths: AppPaths, settings: Settings) -> dict[str, str]:
    """The embedder in use, where it is, why it is the one, and whether it is ready (nothing is converted here)."""
    try:
        path, reason = embedder_choice(paths, settings, ensure=False)
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        return {"name": "", "path": "", "reason": "", "status": f"error: {e}"}
    if path.is_file():
        status = "ready"
    elif settings.model.embedding_path:
        status = "file not found — fix model.embedding_path in Settings ▸ Retrieval"
    else:
        from notebooklm_local.core.errors import ModelLoadError
        from notebooklm_local.services.embedder_convert import locate_source_zip

        try:
            locate_source_zip()
            status = "not built yet — converted from the installed package on first use (or run `notebooklm-local init`)"
        except ModelLoadError as e:
            status = f"missing — {e}"
    return {"name": path.name, "path": str(path), "reason": reason, "status": status}


def doctor_report(paths: AppPaths, settings: Settings, *, plugins: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything doctor shows. ``plugins``: the plugin list (default: from ``set_plugins_report``'s function)."""
    from notebooklm_local.services.llama_runtime import build_info

    try:
        info = build_info()
        llama = {
            "llama_cpp_python": info.version,
            "backend": info.backend,
            "gpu_offload": info.gpu_offload,
            "reason": info.reason,
            "build_flags": info.build_flags,
            "system_info": info.system_info,
        }
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        llama = {"error": str(e)}
    from notebooklm_local.services.model_manager import ModelManager

    default_embedder = default_embedder_path(paths).resolve()
    try:
        models = [
            {"name": m.file_name, "path": str(m.path), "size_mb": round(m.size / 1e6, 1), "default": m.default,
             "architecture": m.architecture, "quantization": m.quantization, "context_length": m.context_length,
             "chat_template": m.has_chat_template, "embedding": m.is_embedding, "error": m.error,
             "role": "default embedder" if Path(m.path).resolve() == default_embedder else ""}
            for m in ModelManager(paths, settings).list()
        ]
    except Exception:  # noqa: BLE001 - doctor reports, never crashes
        models = [
            {"name": m.name, "path": str(m.path), "size_mb": round(m.size / 1e6, 1), "default": m.default,
             "role": m.role}
            for m in find_models(paths, settings)
        ]
    return {
        "version": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "llama_cpp": llama,
        "chat_model": (f"server {settings.server.base_url} ({settings.server.model or 'first listed model'})"
                       if settings.server.enabled else settings.model.path or f"{DEFAULT_MODEL_NAME} (embedded default)"),
        "embedder": (embedder := _embedder(paths, settings)),
        "embedding_model": f"{embedder['path']} ({embedder['reason']})" if embedder["path"] else embedder["status"],
        "models": models,
        "data_dir": str(paths.data),
        "config_dir": str(paths.config),
        "log_file": str(paths.log_file),
        "chromadb": _version("chromadb"),
        "pyside6": _version("PySide6"),
        "tts_engines": tts_engines(),
        "plugins": plugins if plugins is not None else _plugins(paths, settings),
    }


def _model_line(m: dict[str, Any]) -> str:
    bits = [f"{m['size_mb']} MB"] + [str(m[k]) for k in ("architecture", "quantization") if m.get(k)]
    if m.get("context_length"):
        bits.append(f"ctx {m['context_length']}")
    if m.get("role"):
        bits.append(m["role"])
    if m.get("error"):
        bits.append(f"unreadable: {m['error']}")
    return f"{m['name']} ({', '.join(bits)})"


def _embedder_lines(r: dict[str, Any]) -> list[str]:
    e = r.get("embedder")
    if not e or not e.get("path"):
        return [f"Embedding model  {r.get('embedding_model') or (e or {}).get('status', '?')}"]
    return [
        f"Embedding model  {e['name']} — {e['reason']}",
        f"                 {e['path']} ({e['status']})",
    ]


def format_report(r: dict[str, Any]) -> str:
    ll = r["llama_cpp"]
    lines = [
        f"notebooklm-local {r['version']}",
        f"Python           {r['python']}",
        f"Platform         {r['platform']}",
    ]
    if "error" in ll:
        lines.append(f"llama.cpp        ERROR: {ll['error']}")
    else:
        lines += [
            f"llama.cpp        llama-cpp-python {ll['llama_cpp_python']}",
            f"Backend          {ll['backend']} — {ll['reason']}",
            f"Build flags      {ll['build_flags']}",
        ]
    lines += [
        f"Chat model       {r['chat_model']}",
        *_embedder_lines(r),
        "Models found     " + (", ".join(_model_line(m) for m in r["models"]) or "none — run `notebooklm-local init`"),
        f"Data dir         {r['data_dir']}",
        f"Config dir       {r['config_dir']}",
        f"Log file         {r['log_file']}",
        f"Chroma           chromadb {r['chromadb']}",
        f"Qt               PySide6 {r['pyside6']}",
        "TTS engines      " + (", ".join(f"{k} ({v})" for k, v in r["tts_engines"].items()) or "none found (install espeak-ng for podcast audio)"),
    ]
    plugins = r.get("plugins")
    if plugins is not None:
        lines.append("Plugins          " + (", ".join(
            " ".join(filter(None, [p["id"], p.get("version")])) + f" ({p['state']}, {p.get('source') or '?'})"
            for p in plugins) or "none found"))
        lines += [f"  ! {p['id']}: {p['reason']}" for p in plugins if p.get("state") in ("error", "incompatible")]
    return "\n".join(lines)
