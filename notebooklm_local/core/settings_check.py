"""Checking and editing settings by dotted key: the rules the Settings dialog and ``notebooklm-local config``
share.

:func:`validate_settings` is what the dialog's OK and ``config set`` both run before anything is saved.
The dotted keys (``model.n_ctx``, ``chat.top_k``, ``output_language``) are the fields of the dataclasses in
:mod:`notebooklm_local.core.settings`; :func:`parse_value` turns command-line text into the field's type.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from pathlib import Path
from typing import Any, get_type_hints

from notebooklm_local.core.errors import ConfigError
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.tts import AUDIO_FORMATS

__all__ = [
    "ANSWER_MODES",
    "AUDIENCES",
    "AUDIO_FORMATS",
    "CHOICES",
    "LENGTHS",
    "MAX_CTX",
    "MAX_WPM",
    "MIN_CTX",
    "MIN_WPM",
    "THEMES",
    "validate_settings",
    "setting_keys",
    "setting_type",
    "get_setting",
    "set_setting",
    "default_setting",
    "parse_value",
    "format_value",
    "unknown_key_message",
]

LENGTHS = ("short", "medium", "long")
AUDIENCES = ("beginner", "general", "expert")
CHOICES = ("auto", "on", "off")
ANSWER_MODES = ("auto", "generate", "quotes")  # chat.mode (services/chat.py MODES)
THEMES = ("system", "light", "dark")
MIN_CTX, MAX_CTX = 512, 1 << 20
MIN_WPM, MAX_WPM = 80, 450

_HIDDEN = {"schema_version"}  # not a setting: the file format's version
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def validate_settings(s: Settings) -> list[tuple[str, str]]:
    """Problems with the values, as (Settings dialog tab, message); empty when they can be saved."""
    out: list[tuple[str, str]] = []
    m = s.model
    for value, what in ((m.path, "chat model"), (m.embedding_path, "embedding model")):
        if value and not Path(value).expanduser().is_file():
            out.append(("model", f"The {what} file does not exist: {value}"))
    if m.hub_endpoint and not re.match(r"^https?://[^\s/]+", m.hub_endpoint):
        out.append(("model", f"The hub endpoint must be an http:// or https:// address (it is '{m.hub_endpoint}')."))
    if not MIN_CTX <= m.n_ctx <= MAX_CTX:
        out.append(("performance", f"The context size must be between {MIN_CTX} and {MAX_CTX:,} tokens "
                                   f"(it is {m.n_ctx:,})."))
    if m.n_threads < 0:
        out.append(("performance", "Threads must be 1 or more (or Automatic)."))
    if m.n_gpu_layers < -1:
        out.append(("performance", "GPU layers must be −1 (all layers), 0 (none) or a number of layers."))
    if m.flash_attn not in CHOICES:
        out.append(("performance", f"Flash attention must be one of {', '.join(CHOICES)}."))
    c = s.chat
    if not 1 <= c.top_k <= 100:
        out.append(("retrieval", "Passages per question (top-k) must be between 1 and 100."))
    if c.structured not in CHOICES:
        out.append(("retrieval", f"Structured answers must be one of {', '.join(CHOICES)}."))
    if c.mode not in ANSWER_MODES:
        out.append(("retrieval", f"The answer mode must be one of {', '.join(ANSWER_MODES)} (it is '{c.mode}')."))
    if not isinstance(s.index.ocr, bool):
        out.append(("retrieval", f"OCR of scanned pages (index.ocr) must be true or false (it is '{s.index.ocr}')."))
    if len(s.output_language) > 40:
        out.append(("output", "The output language is a language name, like 'French' (at most 40 characters)."))
    if s.ui.theme not in THEMES:
        out.append(("output", f"The theme must be one of {', '.join(THEMES)} (it is '{s.ui.theme}')."))
    st = s.studio
    if st.summary_length not in LENGTHS:
        out.append(("output", f"The summary length must be one of {', '.join(LENGTHS)}."))
    if st.podcast_length not in (*LENGTHS, "default"):  # "default" is the podcast tab's name for "medium"
        out.append(("output", "The podcast length must be one of short, default, long."))
    if st.audience not in AUDIENCES:
        out.append(("output", f"The audience must be one of {', '.join(AUDIENCES)}."))
    if not 1 <= st.cod_steps <= 10:
        out.append(("output", "Chain-of-density steps must be between 1 and 10."))
    if not 20 <= st.cod_words <= 1000:
        out.append(("output", "Chain-of-density words must be between 20 and 1,000."))
    hosts = [st.host_a.strip(), st.host_b.strip()]
    if not all(hosts):
        out.append(("output", "Both podcast hosts need a name."))
    elif hosts[0].casefold() == hosts[1].casefold():
        out.append(("output", "The two podcast hosts need different names."))
    if any(len(h) > 40 for h in hosts):
        out.append(("output", "Host names can have at most 40 characters."))
    t = s.tts
    if not t.engine.strip():
        out.append(("audio", "Choose a text-to-speech engine."))
    if not MIN_WPM <= t.rate_wpm <= MAX_WPM:
        out.append(("audio", f"The speaking rate must be between {MIN_WPM} and {MAX_WPM} words per minute "
                             f"(it is {t.rate_wpm})."))
    if not 0 <= t.pause_s <= 5:
        out.append(("audio", "The pause between turns must be between 0 and 5 seconds."))
    if t.format not in AUDIO_FORMATS:
        out.append(("audio", f"The audio format must be one of {', '.join(AUDIO_FORMATS)}."))
    return out


# -- dotted keys -----------------------------------------------------------------------------------------


def _walk(cls: type, prefix: str) -> dict[str, type]:
    out: dict[str, type] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            out.update(_walk(typ, f"{key}."))  # type: ignore[arg-type]
        elif key not in _HIDDEN:
            out[key] = getattr(typ, "__origin__", typ)
    return out


_KEYS: dict[str, type] = _walk(Settings, "")


def setting_keys() -> list[str]:
    """Every dotted key, in the order of the dataclasses (top-level ones first, then each section)."""
    return list(_KEYS)


def unknown_key_message(key: str) -> str:
    """'Unknown setting ...' with the closest keys (by the whole key and by its last part)."""
    keys = list(_KEYS)
    close = difflib.get_close_matches(key, keys, n=4, cutoff=0.6)
    last = key.rsplit(".", 1)[-1]
    tails = {k.rsplit(".", 1)[-1]: k for k in keys}
    for k in keys:
        if k.rsplit(".", 1)[-1] in difflib.get_close_matches(last, list(tails), n=3, cutoff=0.75) and k not in close:
            close.append(k)
    hint = f" Did you mean: {', '.join(close[:5])}?" if close else ""
    return f"Unknown setting '{key}'.{hint} (`notebooklm-local config list` shows them all.)"


def setting_type(key: str) -> type:
    try:
        return _KEYS[key]
    except KeyError:
        raise ConfigError(unknown_key_message(key)) from None


def _parent(settings: Settings, key: str) -> tuple[Any, str]:
    setting_type(key)
    *sections, name = key.split(".")
    obj: Any = settings
    for part in sections:
        obj = getattr(obj, part)
    return obj, name


def get_setting(settings: Settings, key: str) -> Any:
    obj, name = _parent(settings, key)
    return getattr(obj, name)


def set_setting(settings: Settings, key: str, value: Any) -> None:
    """Set one value in place (already of the field's type: see :func:`parse_value`)."""
    obj, name = _parent(settings, key)
    setattr(obj, name, value)


def default_setting(key: str) -> Any:
    return get_setting(Settings(), key)


def parse_value(key: str, text: str) -> Any:
    """Command-line text to the type of ``key``'s field; raises ConfigError saying what is expected.

    int: ``4096`` (``8_192`` too); float: ``0.25``; bool: true/false, yes/no, on/off, 1/0; list: a JSON array
    (``["a", "b"]``) or comma-separated names (``a,b``; empty text: an empty list); str: the text as given.
    """
    typ = setting_type(key)
    raw = text.strip()
    if typ is bool:
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"'{key}' is true or false (also yes/no, on/off, 1/0), not '{text}'.")
    if typ is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"'{key}' is a whole number, not '{text}'.") from None
    if typ is float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"'{key}' is a number (like 0.5), not '{text}'.")
        return value
    if typ is list:
        if raw.startswith("["):
            try:
                items = json.loads(raw)
            except json.JSONDecodeError as e:
                raise ConfigError(f"'{key}' is a list: a JSON array of strings or comma-separated names ({e}).") from e
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"'{key}' is a list of strings, not '{text}'.")
            return items
        return [p.strip() for p in raw.split(",") if p.strip()]
    if key in ("model.path", "model.embedding_path") and raw:
        path = Path(raw).expanduser()
        return str(path.resolve()) if path.is_file() else raw  # absolute: the app may start elsewhere
    return text


def format_value(value: Any) -> str:
    """A value as ``config get`` prints it: strings as they are, true/false, lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
