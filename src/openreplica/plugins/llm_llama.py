"""A GGUF model run in-process with `llama-cpp-python` (the optional `llama` extra).

llama.cpp generation is blocking and CPU-bound, so it runs in a worker thread that
hands each streamed chunk to the event loop through a queue. Closing the async
iterator (barge-in) tells the worker to stop at the next token.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openreplica.plugins.base import ChatMessage, LLMDelta, LLMUnavailable, TextDelta
from openreplica.plugins.chat_format import ToolCallAssembler, to_openai_messages

__all__ = ["LlamaCppLLM", "default_threads"]

MISSING = (
    "llama-cpp-python is not installed: install the llama extra: pip install 'openreplica[llama]'"
)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


class _Loaded:
    """The loaded llama.cpp model, shared by `with_generation` copies."""

    def __init__(self) -> None:
        self.llama: Any = None
        # One llama context serves one generation at a time.
        self.lock = threading.Lock()


def default_threads(cores: int | None) -> int:
    """llama.cpp's own default for generation: half the cores, at least one."""
    return max(1, (cores or 2) // 2)


class LlamaCppLLM:
    """`model_path`: a local .gguf file. `generation` holds keyword arguments for
    `create_chat_completion` (temperature, max_tokens, …), e.g. from `extra_body`.

    `n_threads`: threads for generation (None: half the cores, llama.cpp's default).
    `n_threads_batch`: threads for reading the prompt (None: as many as `n_threads`).
    llama.cpp's own default there is every core; its threads wait for each other at
    every layer, so while the recogniser, the TTS or the end-of-turn model holds a core
    a thread is descheduled and the others spin: on 2 cores with one busy process the
    tiny test model's first token took 13 / 89 / 127 ms (p50 / p90 / max) with 2
    threads against 8 / 10 / 12 with one (docs/voice.md).
    """

    name = "llama"

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        chat_format: str | None = None,
        seed: int = 0,
        generation: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self.chat_format = chat_format
        self.seed = seed
        self.generation = dict(generation or {})
        self._model = _Loaded()

    def with_generation(self, generation: Mapping[str, Any]) -> LlamaCppLLM:
        """Same loaded model (no second copy in memory), other generation settings."""
        other = LlamaCppLLM(
            self.model_path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads_batch,
            chat_format=self.chat_format,
            seed=self.seed,
            generation=generation,
        )
        other._model = self._model
        return other

    def load(self) -> Any:
        """Load the model now (blocking); later calls return the same instance."""
        with self._model.lock:
            return self._load_locked()

    def _load_locked(self) -> Any:
        if self._model.llama is not None:
            return self._model.llama
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailable(MISSING) from exc
        if not self.model_path.is_file():
            raise LLMUnavailable(f"GGUF model {self.model_path} does not exist")
        threads = self.n_threads or default_threads(os.cpu_count())
        try:
            self._model.llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=threads,
                n_threads_batch=self.n_threads_batch or threads,
                chat_format=self.chat_format,
                seed=self.seed,
                verbose=False,
            )
        except Exception as exc:
            raise LLMUnavailable(f"cannot load {self.model_path}: {exc}") from exc
        return self._model.llama

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> AsyncIterator[LLMDelta]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        def work() -> None:
            try:
                with self._model.lock:
                    for chunk in self._generate(messages, tools):
                        if stop.is_set():
                            break
                        put(chunk)
            except BaseException as exc:
                put(_Failed(exc))
            finally:
                put(_DONE)

        worker = threading.Thread(target=work, name="llama-generate", daemon=True)
        worker.start()
        calls = ToolCallAssembler()
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, _Failed):
                    err = item.error
                    if isinstance(err, LLMUnavailable):
                        raise err
                    raise LLMUnavailable(f"llama.cpp failed: {type(err).__name__}: {err}")
                for delta in _deltas(item, calls):
                    yield delta
            for request in calls.finish():
                yield request
        except ValueError as exc:
            raise LLMUnavailable(f"llama.cpp produced a malformed {exc}") from exc
        finally:
            stop.set()

    def _generate(
        self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]]
    ) -> Iterator[Any]:
        llama = self._load_locked()
        kwargs: dict[str, Any] = dict(self.generation)
        if tools:
            kwargs["tools"] = [dict(t) for t in tools]
        try:
            return iter(
                llama.create_chat_completion(
                    messages=to_openai_messages(messages), stream=True, **kwargs
                )
            )
        except TypeError as exc:  # an unknown generation option
            raise LLMUnavailable(f"bad llama.cpp option: {exc}") from exc


def _deltas(chunk: object, calls: ToolCallAssembler) -> Iterator[TextDelta]:
    """Text deltas of one OpenAI-shaped chunk dict; tool-call fragments go to `calls`."""
    if not isinstance(chunk, Mapping):
        raise ValueError(f"chunk: {chunk!r}")
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            yield TextDelta(str(content))
        for frag in delta.get("tool_calls") or ():
            fn = frag.get("function") or {}
            calls.add(
                int(frag.get("index", 0)), frag.get("id"), fn.get("name"), fn.get("arguments")
            )
