"""Every helper sends exactly the SPEC §1.1 message."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest

from openreplica.client import Conversation, messages
from openreplica.client.testing import FakeServer
from openreplica.protocol import decode_interaction, encode


async def test_echo_text(conv: Conversation, server: FakeServer) -> None:
    iid = await conv.echo("Hello there.", inference_id="narr-1")
    assert iid == "narr-1"
    assert server.received == [
        {
            "message_type": "conversation",
            "event_type": "conversation.echo",
            "conversation_id": "c1",
            # `modality` defaults to "text" (SPEC §1.1), so the codec leaves it out
            "properties": {"text": "Hello there.", "inference_id": "narr-1"},
        }
    ]


async def test_echo_without_an_id_gets_a_fresh_one(conv: Conversation, server: FakeServer) -> None:
    a = await conv.echo("one")
    b = await conv.echo("two")
    assert a != b
    assert [m["properties"]["inference_id"] for m in server.received] == [a, b]


async def test_echo_audio_chunks_done_on_the_last(conv: Conversation, server: FakeServer) -> None:
    chunks = [b"\x01\x00\x02\x00", b"\x03\x00", b"\x04\x00\x05\x00"]
    iid = await conv.echo_audio(chunks, sample_rate=24000, inference_id="a1")
    assert iid == "a1"
    assert [m["properties"] for m in server.received] == [
        {
            "modality": "audio",
            "audio": base64.b64encode(chunk).decode(),
            "sample_rate": 24000,
            "inference_id": "a1",
            "done": i == 2,
        }
        for i, chunk in enumerate(chunks)
    ]
    assert {m["event_type"] for m in server.received} == {"conversation.echo"}


async def test_echo_audio_from_an_async_source_defaults_to_16k(
    conv: Conversation, server: FakeServer
) -> None:
    async def tts() -> AsyncIterator[bytes]:
        yield b"\x00\x00" * 4

    await conv.echo_audio(tts())
    (only,) = server.received
    # 16000 is the SPEC default, so the codec leaves `sample_rate` out
    assert only["properties"] == {
        "modality": "audio",
        "audio": "AAAAAAAAAAA=",
        "done": True,
        "inference_id": only["properties"]["inference_id"],
    }


async def test_echo_audio_refuses_odd_bytes_and_nothing(conv: Conversation) -> None:
    with pytest.raises(ValueError, match="16-bit"):
        await conv.echo_audio([b"\x00\x00\x01"])
    with pytest.raises(ValueError, match="at least one chunk"):
        await conv.echo_audio([])


async def test_respond_interrupt_and_context(conv: Conversation, server: FakeServer) -> None:
    await conv.respond("What is the capital of France?")
    await conv.interrupt()
    await conv.overwrite_context("You are in a museum.")
    await conv.append_context("The user is a child.")
    await conv.append_context("Order shipped.", job_status="done")
    assert server.received == [
        {
            "message_type": "conversation",
            "event_type": "conversation.respond",
            "conversation_id": "c1",
            "properties": {"text": "What is the capital of France?"},
        },
        {
            "message_type": "conversation",
            "event_type": "conversation.interrupt",
            "conversation_id": "c1",
            "properties": {},
        },
        {
            "message_type": "conversation",
            "event_type": "conversation.overwrite_llm_context",
            "conversation_id": "c1",
            "properties": {"context": "You are in a museum."},
        },
        {
            "message_type": "conversation",
            "event_type": "conversation.append_llm_context",
            "conversation_id": "c1",
            "properties": {"context": "The user is a child."},
        },
        {
            "message_type": "conversation",
            "event_type": "conversation.append_llm_context",
            "conversation_id": "c1",
            "properties": {"context": "Order shipped.", "job_status": "done"},
        },
    ]


async def test_sensitivity(conv: Conversation, server: FakeServer) -> None:
    await conv.set_sensitivity(pause="high", interrupt="low")
    await conv.set_sensitivity(interrupt="superlow")
    assert [m["properties"] for m in server.received] == [
        {"participant_pause_sensitivity": "high", "participant_interrupt_sensitivity": "low"},
        {"participant_interrupt_sensitivity": "superlow"},
    ]
    assert server.received[0]["event_type"] == "conversation.sensitivity"
    with pytest.raises(ValueError, match="one of"):
        await conv.set_sensitivity(pause="loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both"):
        await conv.set_sensitivity()


async def test_tool_result_serialises_non_strings(conv: Conversation, server: FakeServer) -> None:
    await conv.send_tool_result("call_1", "sunny", name="get_weather")
    await conv.send_tool_result("call_2", {"temp_c": 21, "sky": "clear"}, status="error")
    assert server.received == [
        {
            "message_type": "conversation",
            "event_type": "conversation.tool_result",
            "conversation_id": "c1",
            "properties": {"tool_call_id": "call_1", "output": "sunny", "name": "get_weather"},
        },
        {
            "message_type": "conversation",
            "event_type": "conversation.tool_result",
            "conversation_id": "c1",
            "properties": {
                "tool_call_id": "call_2",
                "output": '{"temp_c": 21, "sky": "clear"}',
                "status": "error",
            },
        },
    ]


async def test_respond_refuses_empty_text(conv: Conversation) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await conv.respond("   ")


def test_every_builder_round_trips_through_the_servers_decoder() -> None:
    built = [
        messages.echo_text("c1", "hi", inference_id="x"),
        messages.echo_audio_chunk("c1", b"\x00\x00", sample_rate=24000, done=True),
        messages.respond("c1", "hi"),
        messages.interrupt("c1"),
        messages.overwrite_context("c1", "ctx"),
        messages.append_context("c1", "ctx", job_status="running"),
        messages.sensitivity("c1", pause="low"),
        messages.tool_result("c1", "t1", [1, 2], name="f"),
        messages.resume("c1", 7),
    ]
    for message in built:
        assert decode_interaction(encode(message), conversation_id="c1") == message
    assert json.loads(encode(messages.resume("c1", 7))) == {
        "message_type": "system",
        "event_type": "system.resume",
        "conversation_id": "c1",
        "properties": {"last_seq": 7},
    }
