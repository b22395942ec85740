"""Every interaction helper against the server: in this process where the socket is not
the point (`local_client`), a real server process for join refusals and REST."""

from __future__ import annotations

import asyncio
import math
import struct

import pytest

from openreplica.client import (
    ApiError,
    ConversationEnded,
    ConversationNotFound,
    NotAuthorised,
    ReplicaClient,
)
from openreplica.protocol import ErrorEvent, UtteranceStreaming

from .conftest import LONG_REPLY, ScriptedLLM, echo_conversation, llm_conversation


def tone(seconds: float, rate: int = 24000) -> bytes:
    n = int(seconds * rate)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n)
    )


async def test_echo_text_is_spoken_and_reconciled(local_client: ReplicaClient) -> None:
    info = await echo_conversation(local_client)
    async with await local_client.connect(info, last_seq=0) as conv:
        said = await conv.say("Hello from the local_client.")
        assert (said.text, said.heard, said.spoken) == ("Hello from the local_client.",) * 3
        assert said.done and said.final and not said.interrupted
        assert said.duration is not None and said.duration > 0
        assert said.turn_idx == 0
        seqs = [e.seq for e in conv.view.events]
        assert seqs == list(range(1, len(seqs) + 1))
        assert conv.view.events[0].event_type == "system.replica_joined"
        (entry,) = conv.transcript()
        assert (entry.role, entry.content, entry.inference_id) == (
            "replica",
            "Hello from the local_client.",
            said.inference_id,
        )


async def test_echo_audio_chunks_play_as_one_utterance(local_client: ReplicaClient) -> None:
    info = await echo_conversation(local_client)
    async with await local_client.connect(info, last_seq=0) as conv:
        pcm = tone(0.6)
        third = len(pcm) // 6 * 2
        chunks = [pcm[:third], pcm[third : 2 * third], pcm[2 * third :]]
        iid = await conv.echo_audio(chunks, sample_rate=24000, inference_id="tone-1")
        assert iid == "tone-1"
        played = await conv.wait_utterance(iid)
        assert played.done and not played.interrupted
        assert played.duration is not None and played.duration > 0.3
        assert not conv.view.errors


async def test_interrupt_cuts_an_echo_short(local_client: ReplicaClient) -> None:
    info = await echo_conversation(local_client)
    async with await local_client.connect(info, last_seq=0) as conv:
        first_words = conv.wait_for(
            lambda e: isinstance(e, UtteranceStreaming) and e.inference_id == "story"
        )
        await conv.echo(LONG_REPLY, inference_id="story")
        await first_words
        await conv.interrupt()
        story = await conv.wait_utterance("story")
        assert story.interrupted and story.final
        assert story.text == LONG_REPLY
        assert LONG_REPLY.startswith(story.heard) and len(story.heard) < len(LONG_REPLY)


async def test_echo_mode_refuses_respond_and_accepts_the_rest(local_client: ReplicaClient) -> None:
    info = await echo_conversation(local_client)
    async with await local_client.connect(info) as conv:
        await conv.overwrite_context("You are in a museum.")
        await conv.append_context("The visitor is a child.", job_status="done")
        await conv.set_sensitivity(pause="high", interrupt="low")
        second = conv.wait_for(
            lambda e: (
                isinstance(e, ErrorEvent) and e.properties.event_type == "conversation.respond"
            )
        )
        await conv.send_tool_result("call_1", {"x": 1})  # refused: echo mode
        await conv.respond("Hello?")  # refused: echo mode
        await asyncio.wait_for(second, 10)
        # errors come back in order, and only for the two refused interactions
        assert [(e.properties.code, e.properties.event_type) for e in conv.view.errors] == [
            ("not_allowed_in_mode", "conversation.tool_result"),
            ("not_allowed_in_mode", "conversation.respond"),
        ]


async def test_respond_with_context_and_sensitivity_reaches_the_llm(
    local_client: ReplicaClient, llm: ScriptedLLM
) -> None:
    info = await llm_conversation(local_client, llm)
    async with await local_client.connect(info, last_seq=0) as conv:
        await conv.overwrite_context("The user is in Lisbon.")
        await conv.append_context("The user likes trams.")
        await conv.set_sensitivity(pause="verylow", interrupt="high")
        turn = await conv.ask("good morning")
        assert turn.user is not None and turn.user.text == "good morning"
        assert turn.reply_text == "You said good morning"
        assert turn.turn_idx == 1 and not conv.view.errors
        request = llm.requests[-1]
        system = " ".join(str(m["content"]) for m in request["messages"] if m["role"] == "system")
        assert "The user is in Lisbon.\nThe user likes trams." in system
        await conv.overwrite_context("The user is in Porto.")
        await conv.ask("again")
        system = " ".join(
            str(m["content"]) for m in llm.requests[-1]["messages"] if m["role"] == "system"
        )
        assert "Porto" in system and "Lisbon" not in system


async def test_interrupting_an_llm_reply(local_client: ReplicaClient, llm: ScriptedLLM) -> None:
    info = await llm_conversation(local_client, llm)
    async with await local_client.connect(info) as conv:
        streaming = conv.wait_for(lambda e: isinstance(e, UtteranceStreaming))
        await conv.respond("tell me a long story")
        first = await streaming
        await conv.interrupt()
        assert first.inference_id is not None
        reply = await conv.wait_utterance(first.inference_id)
        assert reply.interrupted and reply.turn_idx == 1
        assert LONG_REPLY.startswith(reply.heard) and len(reply.heard) < len(LONG_REPLY)


async def test_join_refusals_are_typed(client: ReplicaClient, live_server: object) -> None:
    info = await echo_conversation(client, require_auth=True)
    assert info["meeting_token"]
    anonymous = ReplicaClient(client.base_url)  # no API key, no token
    conv = await anonymous.connect(info["conversation_id"])
    with pytest.raises(NotAuthorised):
        await conv.wait_closed()
    async with await anonymous.connect(info) as ok:  # the meeting token from the result
        said = await ok.say("Authorised.")
        assert said.done
    missing = await client.connect("c-does-not-exist")
    with pytest.raises(ConversationNotFound):
        async for _ in missing:
            pass
    await client.end_conversation(info["conversation_id"])
    ended = await client.connect(info)
    with pytest.raises(ConversationEnded):
        await ended.wait_closed()
    with pytest.raises(ConversationEnded):
        await ended.respond("anyone?")  # once refused, every send says so
    # with a position to resume from and REST access, an ended conversation replays
    replayed = await client.connect(info, last_seq=0)
    await replayed.wait_closed()
    assert replayed.ended and [u.spoken for u in replayed.utterances] == ["Authorised."]
    await anonymous.aclose()


async def test_rest_helpers_and_errors(client: ReplicaClient) -> None:
    persona = await client.create_persona(persona_name="P", pipeline_mode="echo")
    pid = persona["persona_id"]
    assert (await client.get_persona(pid))["persona_name"] == "P"
    patched = await client.patch_persona(
        pid, [{"op": "replace", "path": "/persona_name", "value": "Q"}]
    )
    assert patched["persona_name"] == "Q"
    with pytest.raises(ApiError) as bad_patch:
        await client.patch_persona(pid, [{"op": "remove", "path": "/nope/nope"}])
    assert bad_patch.value.status == 400 and "error" in bad_patch.value.body
    listed = await client.list_personas()
    assert pid in [p["persona_id"] for p in listed["data"]] and listed["total_count"] >= 1
    info = await client.create_conversation(persona_id=pid, conversation_name="rest")
    cid = info["conversation_id"]
    assert info["status"] == "active" and info["conversation_url"].endswith(cid)
    assert (await client.get_conversation(cid))["conversation_name"] == "rest"
    page = await client.list_conversations(limit=100, status="active")
    assert cid in [c["conversation_id"] for c in page["data"]]
    await client.end_conversation(cid)
    assert (await client.get_conversation(cid))["status"] == "ended"
    await client.delete_conversation(cid)
    with pytest.raises(ApiError) as gone:
        await client.get_conversation(cid)
    assert gone.value.status == 404 and gone.value.detail
    await client.delete_persona(pid)
    with pytest.raises(ApiError) as gone_persona:
        await client.get_persona(pid)
    assert gone_persona.value.status == 404
    async with ReplicaClient(client.base_url, "wrong-key") as intruder:
        with pytest.raises(ApiError) as denied:
            await intruder.list_personas()
    assert denied.value.status == 401 and denied.value.body == {"message": "Invalid access token"}
    replicas = await client.list_replicas()
    assert replicas["data"]
