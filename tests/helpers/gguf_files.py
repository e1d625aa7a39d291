"""Small synthetic GGUF files written with llama.cpp's own writer (the ``gguf`` package)."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str = "Tiny Test",
    context_length: int = 2048,
    file_type: int | None = 15,  # LlamaFileType.MOSTLY_Q4_K_M
    chat_template: str | None = CHAT_TEMPLATE,
    embedding: bool = False,
    vocab: int = 1000,
    data_bytes: int = 64 * 1024,
    model_type: str | None = None,
) -> Path:
    """Write a GGUF with real metadata, a vocabulary array and ``data_bytes`` of f32 tensor data."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name)
    if model_type:
        w.add_type(model_type)
    w.add_context_length(context_length)
    w.add_embedding_length(8)
    w.add_block_count(1)
    if file_type is not None:
        w.add_file_type(file_type)
    if chat_template:
        w.add_chat_template(chat_template)
    if embedding:
        w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"tok{i}".encode() for i in range(vocab)])
    w.add_token_scores([0.0] * vocab)
    rows = max(1, data_bytes // (8 * 4))
    w.add_tensor("token_embd.weight", np.arange(rows * 8, dtype=np.float32).reshape(rows, 8))
    w.add_tensor("blk.0.attn_q.weight", np.ones((8, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
