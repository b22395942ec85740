"""Optional backends fail with an error that says what to install."""

from __future__ import annotations

import sys

import pytest
from requires import require_module

from openreplica.plugins.asr_faster_whisper import FasterWhisperASR
from openreplica.plugins.audio import silence
from openreplica.plugins.base import ASRUnavailable, ChatMessage, LLMUnavailable
from openreplica.plugins.llm_llama import LlamaCppLLM


async def test_llama_without_the_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if the extra were absent
    llm = LlamaCppLLM("/nonexistent/model.gguf")
    with pytest.raises(LLMUnavailable) as info:
        [d async for d in llm.stream([ChatMessage("user", "hi")])]
    assert "pip install 'openreplica[llama]'" in str(info.value)
    assert info.value.code == "llm_unavailable"


async def test_llama_with_a_missing_model_file_names_it() -> None:
    require_module("llama_cpp", "pip install 'openreplica[llama]'")
    llm = LlamaCppLLM("/nonexistent/model.gguf")
    with pytest.raises(LLMUnavailable, match=r"/nonexistent/model\.gguf"):
        [d async for d in llm.stream([ChatMessage("user", "hi")])]


async def test_faster_whisper_without_the_package_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if it were absent
    asr = FasterWhisperASR("tiny.en")
    stream = asr.create_stream()
    assert await stream.push(silence(1600)) is None
    with pytest.raises(ASRUnavailable, match="faster-whisper is not installed"):
        await stream.finish()


async def test_faster_whisper_empty_utterance_needs_no_model() -> None:
    stream = FasterWhisperASR("tiny.en").create_stream()
    assert (await stream.finish()).text == ""
