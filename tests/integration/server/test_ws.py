"""The WebSocket data channel against a real server process (SPEC §2.1, §2.3, §3)."""

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


# ----------------------------------------------------------------------- fan-out


async def test_every_subscriber_gets_every_event_and_errors_go_to_the_sender_only(
    server: ServerProcess,
) -> None:
    cid = server.conversation()
    async with (
        websockets.connect(server.ws_url(cid)) as a,
        websockets.connect(server.ws_url(cid)) as b,
        websockets.connect(server.ws_url(cid)) as c,
    ):
        for ws in (a, b, c):
            # the replica joined when `a` connected; b and c see live events only
            if ws is a:
                await recv_until(ws, is_type("system.replica_joined"))
        await a.send("not json")
        await b.send(echo("one two three"))
        got = [await recv_until(ws, is_type("conversation.stopped_speaking")) for ws in (a, b, c)]
    assert got[0][0]["event_type"] == "system.error"
    assert got[0][0]["properties"]["code"] == "invalid_json" and "seq" not in got[0][0]
    broadcast = [[m for m in g if m["event_type"] != "system.error"] for g in got]
    assert broadcast[0] == broadcast[1] == broadcast[2]
    seqs = [m["seq"] for m in broadcast[0]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(m["event_type"] != "system.error" for g in got[1:] for m in g)


# ----------------------------------------------------------------------- replay


async def test_last_seq_replays_what_was_missed_then_goes_live(server: ServerProcess) -> None:
    cid = server.conversation(custom_greeting="Hello there my friend.")
    async with websockets.connect(server.ws_url(cid)) as ws:
        first = await recv_until(ws, is_type("conversation.stopped_speaking"))
    last = first[-1]["seq"]
    async with websockets.connect(server.ws_url(cid, last_seq=2)) as ws:
        replayed = await recv_until(ws, lambda m: m["seq"] == last)
        assert [m["seq"] for m in replayed] == list(range(3, last + 1))
        assert replayed == first[2:]
        await ws.send(echo("and more"))
        live = await recv_until(ws, is_type("conversation.stopped_speaking"))
        assert live[0]["seq"] == last + 1
    async with websockets.connect(server.ws_url(cid, last_seq=0)) as ws:
        everything = await recv_until(ws, lambda m: m["seq"] == live[-1]["seq"])
        assert [m["seq"] for m in everything] == list(range(1, live[-1]["seq"] + 1))


async def test_resume_after_a_disconnect_in_the_middle_of_a_reply(server: ServerProcess) -> None:
    cid = server.conversation(properties={"participant_left_timeout": 30})
    sentence = "one two three four five six seven eight nine ten"
    async with websockets.connect(server.ws_url(cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        await ws.send(echo(sentence))
        seen = await recv_until(
            ws,
            lambda m: (
                m["event_type"] == "conversation.utterance.streaming"
                and m["properties"]["content_index"] == 2
            ),
        )
    last_seen = seen[-1]["seq"]
    await asyncio.sleep(0.5)  # the reply goes on while nobody listens
    async with websockets.connect(server.ws_url(cid)) as ws:
        await ws.send(
            json.dumps(
                {
                    "message_type": "system",
                    "event_type": "system.resume",
                    "properties": {"last_seq": last_seen},
                }
            )
        )
        rest = await recv_until(ws, is_type("conversation.stopped_speaking"))
    assert [m["seq"] for m in rest] == list(range(last_seen + 1, last_seen + 1 + len(rest)))
    streaming = [m for m in seen + rest if m["event_type"] == "conversation.utterance.streaming"]
    assert [m["properties"]["content_index"] for m in streaming] == list(range(len(streaming)))
    assert streaming[-1]["properties"]["final"] is True
    assert streaming[-1]["properties"]["speech"] == sentence


# ----------------------------------------------------------------------- errors


def _respond() -> str:
    return json.dumps({"event_type": "conversation.respond", "properties": {"text": "hi"}})


BAD = [
    ("{nope", "invalid_json"),
    ("[1]", "invalid_json"),
    ('{"event_type": "conversation.fly"}', "unknown_event_type"),
    ('{"event_type": "conversation.echo", "properties": {"text": 5}}', "invalid_properties"),
    ('{"event_type": "conversation.interrupt", "conversation_id": "other"}', "wrong_conversation"),
    (echo("x" * 5000), "message_too_large"),
    (_respond(), "not_allowed_in_mode"),
]


async def test_every_error_code_then_a_valid_interaction_still_works(
    server: ServerProcess,
) -> None:
    persona = server.post("/v2/personas", {"pipeline_mode": "echo"})
    cid = server.conversation(persona_id=persona["persona_id"])
    async with websockets.connect(server.ws_url(cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        for i, (message, code) in enumerate(BAD):
            await ws.send(message)
            (error,) = await recv_until(ws, is_type("system.error"))
            assert error["properties"]["code"] == code, message[:80]
            assert error["properties"]["message"]
            await ws.send(echo(f"still here {i}"))
            reply = await recv_until(ws, is_type("conversation.stopped_speaking"))
            utterance = next(m for m in reply if m["event_type"] == "conversation.utterance")
            assert utterance["properties"]["speech"] == f"still here {i}"


async def test_rate_limit_answers_rate_limited_and_recovers(server: ServerProcess) -> None:
    cid = server.conversation()
    sensitivity = json.dumps(
        {
            "event_type": "conversation.sensitivity",
            "properties": {"participant_pause_sensitivity": "high"},
        }
    )
    async with websockets.connect(server.ws_url(cid)) as ws:
        await recv_until(ws, is_type("system.replica_joined"))
        for _ in range(100):  # burst 20 at 50/s: most of these are over the limit
            await ws.send(sensitivity)
        errors: list[Msg] = []
        async with asyncio.timeout(5):
            while len(errors) < 10:
                message = json.loads(await ws.recv())
                if message["event_type"] == "system.error":
                    errors.append(message)
        assert {e["properties"]["code"] for e in errors} == {"rate_limited"}
        await asyncio.sleep(0.5)
        await ws.send(echo("after the burst"))
        reply = await recv_until(ws, is_type("conversation.utterance"))
        assert reply[-1]["properties"]["speech"] == "after the burst"


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
