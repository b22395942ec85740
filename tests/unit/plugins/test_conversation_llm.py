"""Which LLM a conversation gets: persona `layers.llm` versus the server's local model."""

from __future__ import annotations

from openreplica.plugins.base import LLMOptions, LLMUnavailable
from openreplica.plugins.llm_llama import LlamaCppLLM
from openreplica.plugins.llm_openai import OpenAICompatibleLLM
from openreplica.plugins.registry import ModelCache, build_conversation_llm


def test_no_local_model_means_the_openai_compatible_client() -> None:
    llm, warning = build_conversation_llm(LLMOptions(model="gpt-4o-mini"), ModelCache())
    assert isinstance(llm, OpenAICompatibleLLM) and warning is None


def test_the_local_model_path_selects_llama_cpp() -> None:
    llm, _ = build_conversation_llm(
        LLMOptions(extra_body={"temperature": 0.2}), ModelCache(), local_model_path="/m/q.gguf"
    )
    assert isinstance(llm, LlamaCppLLM)
    assert str(llm.model_path) == "/m/q.gguf" and llm.generation == {"temperature": 0.2}


def test_a_persona_base_url_wins_over_the_local_model() -> None:
    llm, _ = build_conversation_llm(
        LLMOptions(base_url="http://127.0.0.1:8080/v1"), ModelCache(), local_model_path="/m.gguf"
    )
    assert isinstance(llm, OpenAICompatibleLLM)


def test_a_persona_can_name_a_gguf_file_itself() -> None:
    llm, _ = build_conversation_llm(LLMOptions(model="/models/other.GGUF"), ModelCache())
    assert isinstance(llm, LlamaCppLLM) and str(llm.model_path) == "/models/other.GGUF"


async def test_a_missing_model_file_is_a_clear_llm_error() -> None:
    llm, _ = build_conversation_llm(LLMOptions(), ModelCache(), local_model_path="/nope.gguf")
    try:
        async for _ in llm.stream([]):
            pass
    except LLMUnavailable as exc:
        # without the llama extra the error says how to install it
        assert "/nope.gguf" in str(exc) or "llama extra" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected LLMUnavailable")
