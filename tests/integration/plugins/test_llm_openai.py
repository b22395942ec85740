"""OpenAICompatibleLLM against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import pytest
from stub_http import SSE_HEADERS, Handler, Reply, Request, StubServer, sse
from stub_http import chat_chunk as chunk

from openreplica.plugins.base import (
    ChatMessage,
    LLMDelta,
    LLMOptions,
    LLMUnavailable,
    TextDelta,
    ToolCallRequest,
)
from openreplica.plugins.llm_openai import OpenAICompatibleLLM, to_openai_messages

StartServer = Callable[[Handler], Awaitable[StubServer]]


async def collect(llm: OpenAICompatibleLLM, **kw: object) -> list[LLMDelta]:
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "hi")]
    out = [d async for d in llm.stream(messages, **kw)]  # type: ignore[arg-type]
    await llm.aclose()
    return out


def llm_for(server_url: str, **kw: object) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(LLMOptions(base_url=server_url, model="m", **kw))  # type: ignore[arg-type]


async def test_streams_text_deltas_and_sends_headers_and_extra_body(
    stub_server: StartServer,
) -> None:
    async def handler(req: Request) -> Reply:
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": t}) for t in ["Hel", "lo", " there."]]
        events.append(chunk({}, finish="stop"))
        return Reply(headers=SSE_HEADERS, body=sse(events))

    server = await stub_server(handler)
    llm = llm_for(
        server.url,
        api_key="sk-test",
        headers={"X-Replica": "r123"},
        extra_body={"top_k": 7, "chat_template_kwargs": {"thinking": False}},
    )
    deltas = await collect(llm)
    assert deltas == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" there.")]

    (req,) = server.requests
    assert req.method == "POST"
    assert req.path == "/chat/completions"
    assert req.headers["x-replica"] == "r123"
    assert req.headers["authorization"] == "Bearer sk-test"
    body = req.json()
    assert body["model"] == "m"
    assert body["stream"] is True
    assert body["top_k"] == 7
    assert body["chat_template_kwargs"] == {"thinking": False}
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert "tools" not in body


async def test_tool_call_is_assembled_from_fragments(stub_server: StartServer) -> None:
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    frags = [
        {"index": 0, "id": "call_abc", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"city": '}},
        {"index": 1, "id": "call_def", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}},
        {"index": 0, "function": {"arguments": '"Paris"}'}},
    ]  # fmt: skip

    async def handler(req: Request) -> Reply:
        events = [chunk({"content": "Let me check."})]
        events += [chunk({"tool_calls": [f]}) for f in frags]
        events.append(chunk({}, finish="tool_calls"))
        return Reply(headers=SSE_HEADERS, body=sse(events))

    server = await stub_server(handler)
    deltas = await collect(llm_for(server.url), tools=[tool])
    assert deltas == [
        TextDelta("Let me check."),
        ToolCallRequest("call_abc", "get_weather", '{"city": "Paris"}'),
        ToolCallRequest("call_def", "get_time", "{}"),
    ]
    assert json.loads(deltas[1].arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert server.requests[0].json()["tools"] == [tool]


async def test_http_500_raises_llm_unavailable_with_status(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        body = json.dumps({"error": {"message": "model exploded"}}).encode()
        return Reply(status=500, headers={"content-type": "application/json"}, body=body)

    server = await stub_server(handler)
    with pytest.raises(LLMUnavailable) as info:
        await collect(llm_for(server.url))
    assert "HTTP 500" in str(info.value)
    assert "model exploded" in str(info.value)
    assert server.url in str(info.value)
    assert info.value.code == "llm_unavailable"
    assert len(server.requests) == 1  # no silent retries


async def test_connection_refused_raises_llm_unavailable() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LLMUnavailable) as info:
        await collect(llm_for(f"http://127.0.0.1:{port}/v1", timeout=5.0))
    assert "cannot connect" in str(info.value)
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_server_that_hangs_before_responding(stub_server: StartServer) -> None:
    async def handler(req: Request) -> Reply:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server = await stub_server(handler)
    with pytest.raises(LLMUnavailable, match=r"no response within 0\.5 s"):
        await collect(llm_for(server.url, timeout=0.5))


async def test_server_that_hangs_mid_stream(stub_server: StartServer) -> None:
    async def stalled() -> object:
        yield b"data: " + json.dumps(chunk({"content": "Hi"})).encode() + b"\n\n"
        await asyncio.Event().wait()

    async def handler(req: Request) -> Reply:
        return Reply(headers=SSE_HEADERS, body=stalled())  # type: ignore[arg-type]

    server = await stub_server(handler)
    llm = llm_for(server.url, timeout=0.5)
    got: list[LLMDelta] = []
    with pytest.raises(LLMUnavailable, match="no response within"):
        async for d in llm.stream([ChatMessage("user", "hi")]):
            got.append(d)
    assert got == [TextDelta("Hi")]
    await llm.aclose()


async def test_malformed_stream_raises_llm_unavailable(stub_server: StartServer) -> None:
    async def garbage() -> object:
        yield b"data: {this is not json\n\n"

    async def handler(req: Request) -> Reply:
        return Reply(headers=SSE_HEADERS, body=garbage())  # type: ignore[arg-type]

    server = await stub_server(handler)
    with pytest.raises(LLMUnavailable, match="malformed"):
        await collect(llm_for(server.url))


@pytest.mark.parametrize(
    "events",
    [
        [],  # a stream with nothing in it
        [chunk({"role": "assistant", "content": ""}), chunk({}, finish="stop")],
        [chunk({"role": "assistant", "content": None}), chunk({"content": "  "})],
    ],
    ids=["no-events", "empty-content", "whitespace"],
)
async def test_an_empty_reply_raises_llm_unavailable(
    stub_server: StartServer, events: list[dict[str, object]]
) -> None:
    async def handler(req: Request) -> Reply:
        return Reply(headers=SSE_HEADERS, body=sse(events))

    server = await stub_server(handler)
    with pytest.raises(LLMUnavailable, match="empty reply"):
        await collect(llm_for(server.url))


async def test_plain_json_to_a_streaming_request_raises_llm_unavailable(
    stub_server: StartServer,
) -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "I ignore stream."},
                "finish_reason": "stop",
            }
        ],
    }

    async def handler(req: Request) -> Reply:
        body = json.dumps(completion).encode()
        return Reply(headers={"content-type": "application/json"}, body=body)

    server = await stub_server(handler)
    with pytest.raises(LLMUnavailable, match="plain JSON") as info:
        await collect(llm_for(server.url))
    assert info.value.code == "llm_unavailable"


def test_messages_convert_to_openai_shape() -> None:
    call = ToolCallRequest("call_1", "lookup", '{"q": "x"}')
    msgs = [
        ChatMessage("system", "sys"),
        ChatMessage("user", "hello", name="alice"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"result": 1}', tool_call_id="call_1", name="lookup"),
        ChatMessage("assistant", "done"),
    ]
    assert to_openai_messages(msgs) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hello", "name": "alice"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"result": 1}', "tool_call_id": "call_1"},
        {"role": "assistant", "content": "done"},
    ]
