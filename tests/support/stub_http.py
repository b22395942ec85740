"""A tiny HTTP/1.1 server on 127.0.0.1 for testing the HTTP plugin clients.

Raw asyncio rather than a framework, so a test controls every byte: status codes,
chunked SSE streams, a server that accepts and then hangs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: bytes, or an async iterator of chunks sent with chunked transfer encoding
    body: bytes | AsyncIterator[bytes] = b""


Handler = Callable[[Request], Awaitable[Reply]]


class StubServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = Request(method, path, headers, body)
        self.requests.append(request)
        reply = await self.handler(request)
        out_headers = {"connection": "close", **reply.headers}
        if isinstance(reply.body, bytes):
            out_headers["content-length"] = str(len(reply.body))
        else:
            out_headers["transfer-encoding"] = "chunked"
        status = f"HTTP/1.1 {reply.status} X\r\n"
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in out_headers.items())
        writer.write((status + hdrs + "\r\n").encode("latin-1"))
        if isinstance(reply.body, bytes):
            writer.write(reply.body)
        else:
            async for chunk in reply.body:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()


def sse(events: list[dict[str, object]], done: bool = True) -> AsyncIterator[bytes]:
    """OpenAI-style server-sent events, one `data:` line per event."""

    async def gen() -> AsyncIterator[bytes]:
        for event in events:
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
            await asyncio.sleep(0)
        if done:
            yield b"data: [DONE]\n\n"

    return gen()


SSE_HEADERS = {"content-type": "text/event-stream"}


def chat_chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    """One OpenAI `chat.completion.chunk` carrying `delta`."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_reply(text: str) -> Reply:
    """A streamed chat completion that says `text`, word by word."""
    words = text.split(" ")
    deltas = [chat_chunk({"role": "assistant", "content": ""})]
    deltas += [chat_chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    deltas.append(chat_chunk({}, finish="stop"))
    return Reply(headers=SSE_HEADERS, body=sse(deltas))


def tool_call_reply(call_id: str, name: str, arguments: str) -> Reply:
    """A streamed chat completion that calls one tool, its arguments in two fragments."""
    half = len(arguments) // 2
    first = {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments[:half]},
    }
    second = {"index": 0, "function": {"arguments": arguments[half:]}}
    deltas = [
        chat_chunk({"role": "assistant", "tool_calls": [first]}),
        chat_chunk({"tool_calls": [second]}),
        chat_chunk({}, finish="tool_calls"),
    ]
    return Reply(headers=SSE_HEADERS, body=sse(deltas))
