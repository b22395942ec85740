"""The `app-message` data channel: the same messages, errors and replay as the WebSocket."""

from __future__ import annotations

import json

import pytest

from .conftest import Join, Server


def _seqs(messages: list[dict[str, object]]) -> list[int]:
    return [m["seq"] for m in messages if isinstance(m.get("seq"), int)]  # type: ignore[misc]


async def test_respond_gets_an_ordered_spoken_reply(server: Server, join: Join) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    client.send({"event_type": "conversation.respond", "properties": {"text": "good morning"}})
    stopped = await client.wait_event("conversation.replica.stopped_speaking")
    streaming = client.events("conversation.utterance.streaming")
    final = [m for m in streaming if m["properties"]["final"]]
    assert final[-1]["properties"]["speech"] == "You said: good morning"
    assert stopped["properties"]["interrupted"] is False
    seqs = _seqs(client.messages)
    assert seqs == list(range(1, len(seqs) + 1))
    assert {m["turn_idx"] for m in client.events("conversation.utterance")} == {1}


async def test_errors_go_to_the_sender_only(server: Server, join: Join) -> None:
    conversation = await server.create()
    cid = conversation["conversation_id"]
    sender = await join(cid)
    other = await join(cid)
    await sender.wait_event("system.replica_joined")
    sender.send("{not json")
    sender.send({"event_type": "conversation.fly"})
    sender.send({"event_type": "conversation.respond", "properties": {}})
    sender.send({"event_type": "conversation.interrupt", "conversation_id": "another"})
    await sender.wait_for(lambda m: m.get("properties", {}).get("code") == "wrong_conversation")
    codes = [m["properties"]["code"] for m in sender.events("system.error")]
    assert codes == [
        "invalid_json",
        "unknown_event_type",
        "invalid_properties",
        "wrong_conversation",
    ]
    assert all("seq" not in m for m in sender.events("system.error"))
    # The channel goes on: the next message works, and the other participant saw no error.
    sender.send({"event_type": "conversation.echo", "properties": {"text": "Still here."}})
    await other.wait_event("conversation.replica.stopped_speaking")
    assert other.events("system.error") == []


async def test_messages_up_to_256_kib_pass_and_larger_ones_are_refused(
    server: Server, join: Join
) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    big = {
        "event_type": "conversation.append_llm_context",
        "properties": {"context": "x" * (250 * 1024)},
    }
    assert 250 * 1024 < len(json.dumps(big)) < 256 * 1024
    client.send(big)
    client.send({"event_type": "conversation.echo", "properties": {"text": "Done."}})
    await client.wait_event("conversation.replica.stopped_speaking")
    assert client.events("system.error") == []


@pytest.mark.parametrize("server", [{"max_message_bytes": 4096}], indirect=True)
async def test_the_servers_message_limit_answers_message_too_large(
    server: Server, join: Join
) -> None:
    conversation = await server.create()
    client = await join(conversation["conversation_id"])
    await client.wait_event("system.replica_joined")
    too_big = {"event_type": "conversation.append_context", "properties": {"context": "x" * 8000}}
    client.send(too_big)
    error = await client.wait_event("system.error")
    assert error["properties"]["code"] == "message_too_large"


async def test_resume_replays_what_was_missed_without_gaps(server: Server, join: Join) -> None:
    conversation = await server.create(properties={"participant_left_timeout": 30})
    cid = conversation["conversation_id"]
    first = await join(cid)
    await first.wait_event("system.replica_joined")
    first.send({"event_type": "conversation.echo", "properties": {"text": "One two."}})
    await first.wait_event("conversation.replica.stopped_speaking")
    seen = _seqs(first.messages)
    await first.close()
    # Events happen while nobody is connected… (a second participant drives them)
    driver = await join(cid)
    driver.send({"event_type": "conversation.echo", "properties": {"text": "Three four."}})
    await driver.wait_event("conversation.replica.stopped_speaking")
    last = max(_seqs(driver.messages))
    # …and a reconnect with last_seq gets exactly the rest, in order.
    again = await join(cid, last_seq=seen[2])
    await again.wait_for(lambda m: m.get("seq") == last)
    assert _seqs(again.messages) == list(range(seen[2] + 1, last + 1))
    # `system.resume` over the data channel does the same on a live connection.
    live = await join(cid)
    live.send({"event_type": "system.resume", "properties": {"last_seq": 0}})
    await live.wait_for(lambda m: m.get("seq") == last)
    assert _seqs(live.messages) == list(range(1, last + 1))
