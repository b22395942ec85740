"""The WebSocket data channel against a real server process (SPEC §2.1): close codes and
frame limits. What every transport shares (errors to the sender only, gapless resume,
rate limits) is the transport contract: tests/integration/transports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from .conftest import ServerProcess

Msg = dict[str, Any]


def echo(text: str, **props: Any) -> str:
    return json.dumps(
        {
            "message_type": "conversation",
            "event_type": "conversation.echo",
            "properties": {"text": text, **props},
        }
    )


async def recv_until(
    ws: ClientConnection, done: Callable[[Msg], bool], timeout: float = 10.0
) -> list[Msg]:
    got: list[Msg] = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            got.append(message)
            if done(message):
                return got


def is_type(name: str) -> Callable[[Msg], bool]:
    return lambda m: m["event_type"] == name


async def say(ws: ClientConnection, text: str, timeout: float = 10.0) -> list[Msg]:
    """Echo `text` and read up to the utterance that says it back."""
    await ws.send(echo(text))
    return await recv_until(
        ws,
        lambda m: (
            m.get("event_type") == "conversation.utterance"
            and m["properties"].get("speech") == text
        ),
        timeout,
    )


async def close_code(url: str, **kw: Any) -> int | None:
    async with websockets.connect(url, **kw) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code


# ----------------------------------------------------------------------- auth, close codes


async def test_close_codes_for_unknown_unauthorised_and_ended(server: ServerProcess) -> None:
    assert await close_code(server.ws_url("c-nope")) == 4404
    locked = server.post("/v2/conversations", {"require_auth": True})
    cid, token = locked["conversation_id"], locked["meeting_token"]
    assert await close_code(server.ws_url(cid)) == 4401
    assert await close_code(server.ws_url(cid, t="wrong")) == 4401
    async with websockets.connect(server.ws_url(cid, t=token)) as ws:
        joined = await recv_until(ws, is_type("system.replica_joined"))
        assert joined[-1]["seq"] == 1
    open_cid = server.conversation()
    assert await close_code(server.ws_url(open_cid, t="wrong")) == 4401
    server.post(f"/v2/conversations/{open_cid}/end")
    assert await close_code(server.ws_url(open_cid)) == 4410


async def test_ending_closes_every_connection_with_4410_after_the_shutdown(
    server: ServerProcess,
) -> None:
    cid = server.conversation()
    async with (
        websockets.connect(server.ws_url(cid)) as a,
        websockets.connect(server.ws_url(cid)) as b,
    ):
        await recv_until(a, is_type("system.replica_joined"))
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{server.url}/v2/conversations/{cid}/end")
            assert response.status_code == 200
        for ws in (a, b):
            last = await recv_until(ws, is_type("system.shutdown"))
            assert last[-1]["properties"]["shutdown_reason"] == "end_conversation_endpoint_hit"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4410


# ----------------------------------------------------------------------- frames


async def test_a_frame_far_over_the_limit_closes_the_socket(server: ServerProcess) -> None:
    cid = server.conversation()
    async with websockets.connect(server.ws_url(cid), max_size=None) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        await ws.send(echo("x" * 200_000))  # far beyond 2 x 4096 + 64 KiB
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        assert ws.close_code == 1009
