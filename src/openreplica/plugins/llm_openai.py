"""Any OpenAI-compatible chat completions server (OpenAI, vLLM, llama.cpp, Ollama, …).

Streams `TextDelta`s as content arrives and assembles streamed tool-call fragments into
whole `ToolCallRequest`s. Every failure, including a server that accepts the request
and then goes quiet, answers with no text and no tool call, or answers plain JSON to a
streaming request, surfaces as `LLMUnavailable` with a message saying what happened:
a stalled turn is worse than an error the conversation can report.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from openreplica.plugins.base import (
    ChatMessage,
    LLMDelta,
    LLMOptions,
    LLMUnavailable,
    TextDelta,
)
from openreplica.plugins.chat_format import ToolCallAssembler, to_openai_messages
from openreplica.plugins.openai_http import (
    DEFAULT_BASE_URL,
    async_openai_client,
    base_url_or_default,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "OpenAICompatibleLLM", "to_openai_messages"]

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAICompatibleLLM:
    """Chat completions over HTTP with the official `openai` client.

    `options.timeout` bounds the wait for the response and every gap between streamed
    chunks. No automatic retries: the conversation, not the client, decides what to do.
    `trust_env=True` lets the HTTP client honour proxy environment variables.
    """

    name = "openai"

    def __init__(
        self,
        options: LLMOptions,
        *,
        default_model: str = DEFAULT_MODEL,
        trust_env: bool = False,
    ) -> None:
        self.options = options
        self.base_url = base_url_or_default(options.base_url)
        self.model = options.model or default_model
        self._client = async_openai_client(
            self.base_url,
            api_key=options.api_key,
            headers=options.headers,
            timeout=options.timeout,
            trust_env=trust_env,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> AsyncIterator[LLMDelta]:
        timeout = self.options.timeout
        calls = ToolCallAssembler()
        stream: openai.AsyncStream[ChatCompletionChunk] | None = None
        spoke = False
        try:
            async with asyncio.timeout(timeout):
                stream = await self._client.chat.completions.create(
                    model=self.model,
                    messages=cast(list[ChatCompletionMessageParam], to_openai_messages(messages)),
                    stream=True,
                    tools=cast(list[ChatCompletionToolParam], list(tools))
                    if tools
                    else openai.omit,
                    extra_body=dict(self.options.extra_body) or None,
                )
            content_type = stream.response.headers.get("content-type", "")
            if content_type.split(";")[0].strip().endswith("json"):
                # The server ignored `stream: true`: the SSE reader would find nothing.
                raise self._error(
                    f"answered a streaming request with plain JSON ({content_type}); "
                    "it must support `stream: true` (server-sent events)"
                )
            chunks = aiter(stream)
            while True:
                # The idle timeout: each chunk must arrive within `timeout` of the last.
                async with asyncio.timeout(timeout):
                    try:
                        chunk = await anext(chunks)
                    except StopAsyncIteration:
                        break
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        spoke = spoke or not delta.content.isspace()
                        yield TextDelta(delta.content)
                    for frag in delta.tool_calls or ():
                        fn = frag.function
                        calls.add(
                            frag.index,
                            frag.id,
                            fn.name if fn else None,
                            fn.arguments if fn else None,
                        )
        except TimeoutError as exc:
            raise self._error(f"no response within {timeout:g} s") from exc
        except openai.APITimeoutError as exc:
            raise self._error(f"no response within {timeout:g} s") from exc
        except openai.APIStatusError as exc:
            raise self._error(f"HTTP {exc.status_code}: {_status_detail(exc)}") from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise self._error(f"cannot connect: {cause}") from exc
        except LLMUnavailable:
            raise
        except Exception as exc:  # malformed JSON, bad SSE, unexpected shapes
            raise self._error(f"malformed response: {type(exc).__name__}: {exc}") from exc
        finally:
            if stream is not None:
                await stream.close()
        # Tool calls are complete only once the stream is: emit them at the end.
        try:
            requests = calls.finish()
        except ValueError as exc:
            raise self._error(f"malformed {exc}") from exc
        if not spoke and not requests:
            # Silence would leave the user waiting for a reply that never comes.
            raise self._error("returned an empty reply (no text and no tool call)")
        for request in requests:
            yield request

    def _error(self, what: str) -> LLMUnavailable:
        return LLMUnavailable(f"LLM at {self.base_url}: {what}")


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and "message" in inner:
            return str(inner["message"])[:300]
        return str(body)[:300]
    if isinstance(body, str) and body:
        return body[:300]
    return exc.message[:300]
