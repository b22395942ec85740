"""LlamaCppLLM through the real llama.cpp load/tokenize/decode path, on a tiny GGUF.

No LLM weights exist offline, so the test builds one: a 1-layer llama whose token
embeddings are one-hot, whose attention and FFN outputs are zero (the residual stream
is just the embedding), and whose output matrix maps each token to a fixed successor.
Whatever the prompt, it then says SENTENCE and stops.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from requires import require_module

from openreplica.plugins.base import ChatMessage, LLMOptions, TextDelta
from openreplica.plugins.llm_llama import LlamaCppLLM
from openreplica.plugins.registry import ModelCache, build_llm

require_module("llama_cpp", "pip install 'openreplica[llama]'")
require_module("gguf", "pip install 'openreplica[dev]'")

from tiny_gguf import SENTENCE, WORDS, build_tiny_gguf  # noqa: E402 (needs gguf)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    build_tiny_gguf(path)
    return path


async def test_tiny_gguf_streams_its_sentence(tiny_model: Path) -> None:
    llm = LlamaCppLLM(
        tiny_model,
        n_ctx=256,
        n_threads=1,
        chat_format="llama-2",
        generation={"temperature": 0.0, "max_tokens": 20},
    )
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say something.")]
    deltas = [d async for d in llm.stream(messages)]
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert len(deltas) >= len(WORDS)  # streamed token by token, not in one piece
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert text.strip() == SENTENCE

    # a second call on the same loaded model gives the same answer
    again = [d async for d in llm.with_generation({"temperature": 0.0}).stream(messages)]
    assert "".join(d.text for d in again if isinstance(d, TextDelta)).strip() == SENTENCE


async def test_one_loaded_model_serves_every_conversation(tiny_model: Path) -> None:
    """`build_llm("llama")` loads a GGUF once per process; each persona's `extra_body`
    becomes its own generation settings on the shared model."""
    cache = ModelCache()
    options = LLMOptions(model=str(tiny_model), extra_body={"temperature": 0.0, "max_tokens": 20})
    llm, warning = build_llm("llama", options, cache)
    assert isinstance(llm, LlamaCppLLM) and warning is None
    assert llm.model_path == tiny_model and llm.generation["max_tokens"] == 20
    deltas = [d async for d in llm.stream([ChatMessage("user", "Hi there.")])]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)).strip() == SENTENCE
    again, _ = build_llm("llama", options, cache)
    assert isinstance(again, LlamaCppLLM) and again._model is llm._model
