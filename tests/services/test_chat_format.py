"""Chat formats (GGUF template, family fallback, raw) and the engine's load-failure messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.errors import ModelLoadError
from notebooklm_local.core.llm import ChatMessage
from notebooklm_local.services import llama_runtime
from notebooklm_local.services.chat_format import choose_chat_format
from notebooklm_local.services.llama_runtime import LlamaCppEngine, _static_prefix_text
from tests.helpers.gguf_files import write_gguf

MSGS = [ChatMessage("system", "Answer from the passages."), ChatMessage("user", "Earlier?"),
        ChatMessage("assistant", "Yes [1]."), ChatMessage("user", "<passages>...</passages>\nQuestion: now?")]

CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
NO_SYSTEM = ("{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}"
             "{% endif %}<turn>{{ m.role }}: {{ m.content }}</turn>{% endfor %}<turn>assistant:")


def test_gguf_template_wins_and_renders_all_roles() -> None:
    fmt = choose_chat_format("auto", {"tokenizer.chat_template": CHATML, "general.architecture": "qwen2",
                                      "_eos_text": "<|im_end|>"}, "model.gguf")
    assert fmt.name == "gguf-template" and not fmt.add_bos and "<|im_end|>" in fmt.stop
    out = fmt(MSGS)
    assert out.startswith("<|im_start|>system\nAnswer from the passages.<|im_end|>")
    assert out.endswith("<|im_start|>assistant\n")


def test_template_without_system_role_gets_the_system_prompt_in_the_first_user_turn() -> None:
    fmt = choose_chat_format("auto", {"tokenizer.chat_template": NO_SYSTEM}, "m.gguf")
    out = fmt(MSGS)
    assert "system" not in out.split("</turn>")[0].split(":")[0]
    assert out.startswith("<turn>user: Answer from the passages.\n\nEarlier?</turn>")


@pytest.mark.parametrize(
    ("arch", "name", "expected"),
    [("gemma3", "gemma-3-1b-it-Q4_K_M.gguf", "family:gemma"), ("qwen2", "qwen2.5-0.5b-instruct.gguf", "family:chatml"),
     ("llama", "Llama-3.2-1B-Instruct.gguf", "family:llama-3"), ("gemma3", "gemma-3-270m-q4_k_m.gguf", "raw"),
     ("unknownarch", "x-instruct.gguf", "raw")],
)
def test_family_fallback_for_instruct_models_raw_for_base_models(arch: str, name: str, expected: str) -> None:
    fmt = choose_chat_format("auto", {"general.architecture": arch}, name)
    assert fmt.name == expected
    out = fmt(MSGS)
    assert "Answer from the passages." in out and "Question: now?" in out  # the system prompt is never dropped


def test_forced_formats_and_unknown_format() -> None:
    assert choose_chat_format("chatml", {}, "m.gguf").name == "family:chatml"
    assert choose_chat_format("raw", {"tokenizer.chat_template": CHATML}, "m.gguf").name == "raw"
    with pytest.raises(ModelLoadError, match="Unknown chat format 'nope'"):
        choose_chat_format("nope", {}, "m.gguf")


def test_raw_format_ends_with_answer_and_stops_before_a_new_question() -> None:
    fmt = choose_chat_format("auto", {"general.architecture": "gemma3"}, "base.gguf")
    out = fmt(MSGS)
    assert out.endswith("\nAnswer:") and "Answer: Yes [1]." in out
    assert "\nQuestion:" in fmt.stop


@pytest.mark.parametrize("fmt_name", ["chatml", "gemma", "llama-3", "raw"])
def test_static_prefix_is_a_prefix_and_holds_only_the_static_messages(fmt_name: str) -> None:
    fmt = choose_chat_format(fmt_name, {}, "m.gguf")
    prompt = fmt(MSGS)
    prefix = _static_prefix_text(fmt, MSGS, 3, prompt)
    assert prompt.startswith(prefix) and "Yes [1]." in prefix
    assert "now?" not in prefix and "<passages>" not in prefix


def test_unknown_architecture_is_named_in_the_error(tmp_path: Path) -> None:
    f = write_gguf(tmp_path / "alien.gguf", arch="alienformer", name="Alien", chat_template=None)
    with pytest.raises(ModelLoadError, match="architecture 'alienformer'.*does not support"):
        LlamaCppEngine(f, n_ctx=256).load()


def test_out_of_memory_is_explained(tmp_path: Path) -> None:
    llama_runtime._native_errors.clear()
    llama_runtime._native_errors.append("ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer")
    msg = llama_runtime._explain_load_failure(tmp_path / "big.gguf", ValueError("Failed to create context"), 131072)
    assert "Not enough memory" in msg and "131072" in msg and "smaller" in msg
