"""A tiny GGUF chat model built at test time (no LLM weights exist offline).

A 1-layer llama whose token embeddings are one-hot, whose attention and FFN outputs are
zero (the residual stream is just the embedding), and whose output matrix maps each
token to a fixed successor: whatever the prompt, it says SENTENCE and stops. It goes
through the real llama.cpp load/tokenize/decode path. Needs the `gguf` package.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

WORDS = ["▁Hello", "▁from", "▁a", "▁tiny", "▁model", "."]
SENTENCE = "Hello from a tiny model."


def build_tiny_gguf(path: Path) -> None:
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tokens = specials + byte_tokens + WORDS
    types = (
        [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        + [gguf.TokenType.BYTE] * 256
        + [gguf.TokenType.NORMAL] * len(WORDS)
    )
    n_vocab = len(tokens)
    n_embd = 272  # >= n_vocab for one-hot embeddings; 4 heads of 68
    n_ff = 64
    first_word = len(specials) + 256
    eos = 2

    # successor[i]: the token that follows token i. Anything leads to the first word;
    # the words chain to each other and the last one to end-of-sequence.
    successor = np.full(n_vocab, first_word)
    for k in range(len(WORDS) - 1):
        successor[first_word + k] = first_word + k + 1
    successor[first_word + len(WORDS) - 1] = eos

    f32 = np.float32
    embd = np.eye(n_vocab, n_embd, dtype=f32)
    output = np.zeros((n_vocab, n_embd), dtype=f32)
    output[successor, np.arange(n_vocab)] = 1.0

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_context_length(256)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // 4)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types([int(t) for t in types])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(eos)
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=f32))
    w.add_tensor("output.weight", output)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=f32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(f"blk.0.{name}.weight", np.zeros((n_embd, n_embd), dtype=f32))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=f32))
    w.add_tensor("blk.0.ffn_gate.weight", np.zeros((n_ff, n_embd), dtype=f32))
    w.add_tensor("blk.0.ffn_up.weight", np.zeros((n_ff, n_embd), dtype=f32))
    w.add_tensor("blk.0.ffn_down.weight", np.zeros((n_embd, n_ff), dtype=f32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
