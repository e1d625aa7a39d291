"""Turning chat messages into one prompt string for a GGUF model.

Three ways, in this order (``model.chat_format = "auto"``):

1. the chat template stored in the GGUF (``tokenizer.chat_template``), rendered with
   llama-cpp-python's sandboxed Jinja2 formatter — what the model was trained with;
2. a fallback per model family for instruct models whose GGUF lacks a template (llama-cpp-python's
   registered formats: gemma, chatml, llama-3, mistral-instruct);
3. raw completion for base models (the embedded Gemma 3 270M): the messages laid out as a plain
   document ending in ``Answer:``, with stop strings that end the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from notebooklm_local.core.errors import ModelLoadError
from notebooklm_local.core.llm import ChatMessage

__all__ = ["ChatFormat", "choose_chat_format", "raw_format", "FAMILY_FORMATS"]

log = logging.getLogger(__name__)

# GGUF general.architecture -> llama-cpp-python's registered chat format for that family
FAMILY_FORMATS = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "qwen2": "chatml",
    "qwen3": "chatml",
    "qwen2moe": "chatml",
    "qwen3moe": "chatml",
    "phi3": "chatml",
    "llama": "llama-3",
    "mistral": "mistral-instruct",
    "mistral3": "mistral-instruct",
}

_INSTRUCT_HINT = re.compile(r"(?:^|[-_. ])(it|instruct|chat|sft|dpo|rlhf)(?:$|[-_. ])", re.IGNORECASE)

RAW_STOPS = ("\nQuestion:", "\n\nQuestion", "<passage", "</passages>", "\n\n\n")


@dataclass
class ChatFormat:
    """How one model's prompts are written."""

    name: str  # "gguf-template", "family:<format>", "raw"
    render: Callable[[Sequence[ChatMessage]], str]
    stop: tuple[str, ...] = ()
    add_bos: bool = True  # False when the template writes the BOS token itself

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        return self.render(messages)


def _dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def raw_format() -> ChatFormat:
    """A plain-document layout for base models that were never taught a chat format."""

    def render(messages: Sequence[ChatMessage]) -> str:
        parts: list[str] = []
        for m in messages:
            if m.role == "system" or m.role == "user":
                parts.append(m.content.strip())
            else:
                parts.append(f"Answer: {m.content.strip()}")
        return "\n\n".join(p for p in parts if p) + "\nAnswer:"

    return ChatFormat("raw", render, RAW_STOPS, add_bos=True)


def _template_format(template: str, eos: str, bos: str) -> ChatFormat:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    try:
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    except Exception as e:  # a broken template in a GGUF is the model's fault, not the user's
        raise ModelLoadError(f"The model's chat template does not parse ({e}); set chat format to a family") from e

    def render(messages: Sequence[ChatMessage]) -> str:
        msgs = _merge_system_if_unsupported(formatter, messages)
        return formatter(messages=cast(Any, _dicts(msgs))).prompt  # llama_cpp types them as TypedDicts

    return ChatFormat("gguf-template", render, (eos,) if eos else (), add_bos=False)


def _fold_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The system message moved into the first user turn (for formats without a system role)."""
    rest = list(messages[1:])
    if rest and rest[0].role == "user":
        rest[0] = ChatMessage("user", f"{messages[0].content}\n\n{rest[0].content}")
    else:
        rest.insert(0, ChatMessage("user", messages[0].content))
    return rest


def _merge_system_if_unsupported(formatter: Any, messages: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    """Some templates raise on a system role (e.g. older Gemma/Mistral): fold it into the first user turn."""
    if not messages or messages[0].role != "system":
        return messages
    try:
        formatter(messages=_dicts(messages))
        return messages
    except Exception:  # noqa: BLE001 - the template said "no system role"
        return _fold_system(messages)


def _family_format(name: str) -> ChatFormat:
    from llama_cpp import llama_chat_format as lcf

    funcs = {
        "gemma": lcf.format_gemma,
        "chatml": lcf.format_chatml,
        "llama-3": lcf.format_llama3,
        "mistral-instruct": lcf.format_mistral_instruct,
        "llama-2": lcf.format_llama2,
        "alpaca": lcf.format_alpaca,
        "zephyr": lcf.format_zephyr,
    }
    if name not in funcs:
        raise ModelLoadError(f"Unknown chat format '{name}'. Known: auto, raw, {', '.join(sorted(funcs))}.")
    func = funcs[name]
    drops_system = name in ("gemma", "mistral-instruct")  # these would silently drop a system message

    def render(messages: Sequence[ChatMessage]) -> str:
        msgs = _fold_system(messages) if drops_system and messages and messages[0].role == "system" else messages
        return func(messages=_dicts(msgs)).prompt

    s = func(messages=[{"role": "user", "content": "probe"}]).stop  # the format's stop strings
    return ChatFormat(f"family:{name}", render, tuple([s] if isinstance(s, str) else list(s or [])), add_bos=True)


def looks_instruct(metadata: dict[str, str], file_name: str) -> bool:
    name = " ".join([metadata.get("general.name", ""), metadata.get("general.finetune", ""), file_name])
    return bool(_INSTRUCT_HINT.search(name))


def choose_chat_format(setting: str, metadata: dict[str, str], file_name: str) -> ChatFormat:
    """Pick the chat format for a loaded model (see the module docstring)."""
    setting = (setting or "auto").strip().lower()
    if setting == "raw":
        return raw_format()
    if setting not in ("auto", "template", "gguf-template"):
        return _family_format(setting)
    template = metadata.get("tokenizer.chat_template", "")
    if template:
        eos, bos = _special_token_texts(metadata)
        return _template_format(template, eos, bos)
    if setting != "auto":
        raise ModelLoadError("This model has no chat template in its GGUF; choose a chat format family or raw.")
    arch = metadata.get("general.architecture", "")
    if arch in FAMILY_FORMATS and looks_instruct(metadata, file_name):
        log.info("no chat template in %s; using the %s family format", file_name, FAMILY_FORMATS[arch])
        return _family_format(FAMILY_FORMATS[arch])
    log.info("%s has no chat template and looks like a base model: raw completion", file_name)
    return raw_format()


def _special_token_texts(metadata: dict[str, str]) -> tuple[str, str]:
    """EOS/BOS token texts; filled in by the engine (it can detokenize), else empty."""
    return metadata.get("_eos_text", ""), metadata.get("_bos_text", "")
