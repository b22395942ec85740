"""LlamaCppLLM's thread-to-async bridge, with a fake `llama_cpp` module.

The real model path is exercised where llama-cpp-python is installed; here a stand-in
`Llama` class checks the streaming, tool-call assembly, errors and early stop.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventually import eventually

from openreplica.plugins.base import ChatMessage, LLMUnavailable, TextDelta, ToolCallRequest
from openreplica.plugins.llm_llama import LlamaCppLLM, default_threads


class FakeLlama:
    instances: ClassVar[list[FakeLlama]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        self.chunks: list[object] = []
        self.produced = 0
        #: when set, each chunk waits for a permit (lets a test pace the worker)
        self.permits: threading.Semaphore | None = None
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kwargs: Any) -> Iterator[object]:
        self.calls.append(kwargs)
        for c in self.chunks:
            if self.permits is not None:
                assert self.permits.acquire(timeout=5)
            self.produced += 1
            if isinstance(c, BaseException):
                raise c
            yield c


def text(t: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": t}}]}


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    FakeLlama.instances.clear()
    module = types.ModuleType("llama_cpp")
    module.Llama = FakeLlama  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    return model


async def test_streams_text_and_tool_calls(fake_llama: Path) -> None:
    llm = LlamaCppLLM(fake_llama, n_ctx=512, generation={"temperature": 0.0})
    llama = llm.load()
    assert llama.kwargs["model_path"] == str(fake_llama)
    assert llama.kwargs["n_ctx"] == 512
    llama.chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        text("Hi"),
        text(" there."),
        {"choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "c1", "function": {"name": "look", "arguments": '{"a"'}}]}}]},
        {"choices": [{"delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ": 1}"}}]}}]},
    ]  # fmt: skip
    tools = [{"type": "function", "function": {"name": "look"}}]
    out = [d async for d in llm.stream([ChatMessage("user", "hello")], tools)]
    assert out == [TextDelta("Hi"), TextDelta(" there."), ToolCallRequest("c1", "look", '{"a": 1}')]
    (call,) = llama.calls
    assert call["messages"] == [{"role": "user", "content": "hello"}]
    assert call["stream"] is True
    assert call["temperature"] == 0.0
    assert call["tools"] == tools


def test_the_prompt_is_read_on_as_many_threads_as_generation(fake_llama: Path) -> None:
    # llama.cpp would read it on every core, and stall when another process holds one
    assert LlamaCppLLM(fake_llama, n_threads=3).load().kwargs["n_threads_batch"] == 3
    llama = LlamaCppLLM(fake_llama).load()
    assert llama.kwargs["n_threads"] == llama.kwargs["n_threads_batch"] >= 1
    explicit = LlamaCppLLM(fake_llama, n_threads=1, n_threads_batch=4).load()
    assert (explicit.kwargs["n_threads"], explicit.kwargs["n_threads_batch"]) == (1, 4)


def test_default_threads_are_half_the_cores() -> None:
    assert [default_threads(c) for c in (None, 1, 2, 3, 8)] == [1, 1, 1, 1, 4]


async def test_errors_in_the_worker_become_llm_unavailable(fake_llama: Path) -> None:
    llm = LlamaCppLLM(fake_llama)
    llm.load().chunks = [text("a"), RuntimeError("decode failed")]
    got = []
    with pytest.raises(LLMUnavailable, match="decode failed"):
        async for d in llm.stream([ChatMessage("user", "x")]):
            got.append(d)
    assert got == [TextDelta("a")]


async def test_closing_the_stream_stops_generation(fake_llama: Path) -> None:
    llm = LlamaCppLLM(fake_llama)
    llama = llm.load()
    llama.chunks = [text(str(i)) for i in range(1000)]
    llama.permits = threading.Semaphore(0)
    stream = llm.stream([ChatMessage("user", "x")])
    llama.permits.release()
    assert await anext(stream) == TextDelta("0")
    await stream.aclose()  # type: ignore[attr-defined]  # barge-in: sets the stop flag
    llama.permits.release(1000)  # let the worker run freely from now on
    await eventually(
        lambda: not any(t.name == "llama-generate" for t in threading.enumerate()),
        timeout=5,
        interval=0.01,
        message="the llama worker thread ending",
    )
    # it stopped at the next token instead of generating all 1000
    assert llama.produced <= 2


async def test_copies_share_one_loaded_model(fake_llama: Path) -> None:
    base = LlamaCppLLM(fake_llama)
    a = base.with_generation({"max_tokens": 5})
    a.load()
    assert base.load() is a.load()
    assert len(FakeLlama.instances) == 1


async def test_missing_model_file(fake_llama: Path) -> None:
    llm = LlamaCppLLM(fake_llama.with_name("absent.gguf"))
    with pytest.raises(LLMUnavailable, match=r"absent\.gguf does not exist"):
        [d async for d in llm.stream([])]
