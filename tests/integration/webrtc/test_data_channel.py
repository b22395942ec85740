"""The `app-message` data channel: ordered replies and its message size. Errors, replay
and rate limits are the transport contract (tests/integration/transports)."""

from __future__ import annotations

import json

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
