"""The transport contract (SPEC §2, §2.3, §3): written once, run over every transport
(`memory`, `websocket`, `webrtc`: see conftest.py).

- errors go to the sender only: each bad message gets one `system.error` (no `seq`) to
  its sender, nobody else sees it, every participant sees the same broadcast, and the
  sender's next message works;
- gapless resume: a reconnect with `last_seq` (or `system.resume`) gets every event it
  missed exactly once, in order, then live events with no gap;
- rate limit: per connection, and per conversation for all its connections together;
  over the limit a message gets `rate_limited` (to its sender only), and the limit
  recovers with time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from typing import Any

import pytest
from eventually import eventually

from .conftest import LIMITS, Join, Msg, Peer, Transport

SENTENCE = "one two three four five six seven eight nine ten"


def echo(text: str) -> Msg:
    return {"event_type": "conversation.echo", "properties": {"text": text}}


def is_error(code: str | None = None) -> Any:
    return lambda m: (
        m["event_type"] == "system.error" and (code is None or m["properties"]["code"] == code)
    )


def is_reply_end(m: Msg) -> bool:
    return bool(m["event_type"] == "conversation.replica.stopped_speaking")


# ----------------------------------------------------------------------- errors

BAD = [
    ("{nope", "invalid_json"),
    ("[1]", "invalid_json"),
    ('{"event_type": "conversation.fly"}', "unknown_event_type"),
    ('{"event_type": "conversation.echo", "properties": {"text": 5}}', "invalid_properties"),
    ('{"event_type": "conversation.respond", "properties": {}}', "invalid_properties"),
    ('{"event_type": "conversation.interrupt", "conversation_id": "other"}', "wrong_conversation"),
    (json.dumps(echo("x" * 5000)), "message_too_large"),  # over LIMITS' 4096 bytes
    ('{"event_type": "conversation.respond", "properties": {"text": "hi"}}', "not_allowed_in_mode"),
]


async def test_errors_go_to_the_sender_only_and_its_next_message_works(
    transport: Transport, join: Join
) -> None:
    cid = await transport.conversation(echo=True)
    sender = await join(cid)
    await sender.next_type("system.replica_joined")  # the first participant sees seq 1
    others = [await join(cid), await join(cid)]
    for i, (message, code) in enumerate(BAD):
        await sender.send(message)
        error = await sender.next(is_error())
        assert error["properties"]["code"] == code, message[:80]
        assert error["properties"]["message"]
        assert "seq" not in error
        await sender.send(echo(f"still here {i}"))
        utterance = await sender.next_type("conversation.utterance")
        assert utterance["properties"]["speech"] == f"still here {i}"
        await sender.next(is_reply_end)
    for other in others:
        await other.next(
            lambda m: is_reply_end(m) and m["seq"] == sender.of_type(m["event_type"])[-1]["seq"]
        )
        assert other.of_type("system.error") == []
    # Everyone saw the same broadcast: the same events, in `seq` order, with no gap.
    first = max(other.messages[0]["seq"] for other in others)
    views = [[m for m in peer.messages if m.get("seq", 0) >= first] for peer in (sender, *others)]
    assert views[0] == views[1] == views[2]
    assert [m["seq"] for m in views[0]] == list(range(first, first + len(views[0])))


# ----------------------------------------------------------------------- resume


@pytest.mark.parametrize("how", ["last_seq", "system.resume"])
async def test_a_reconnect_gets_every_missed_event_once_in_order_then_live(
    transport: Transport, join: Join, how: str
) -> None:
    cid = await transport.conversation(echo=True)
    witness = await join(cid, last_seq=0)  # stays connected: sees every event live
    await witness.next_type("system.replica_joined")
    first = await join(cid)
    await first.send(echo(SENTENCE))
    await first.next(
        lambda m: (
            m["event_type"] == "conversation.utterance.streaming"
            and m["properties"]["content_index"] == 2
        )
    )
    await first.close()  # in the middle of the reply
    last_seen = first.seqs()[-1]
    end = await witness.next(is_reply_end)  # the reply goes on while `first` is away
    assert end["seq"] > last_seen

    if how == "last_seq":
        again = await join(cid, last_seq=last_seen)
    else:
        again = await join(cid)
        await again.send({"event_type": "system.resume", "properties": {"last_seq": last_seen}})
    await again.next(lambda m: m.get("seq") == end["seq"])
    missed = [m for m in witness.messages if m["seq"] > last_seen]
    assert again.messages == missed  # each missed event once, in order, as broadcast
    streaming = [
        m
        for m in first.messages + again.messages
        if m["event_type"] == "conversation.utterance.streaming"
    ]
    assert [m["properties"]["content_index"] for m in streaming] == list(range(len(streaming)))
    assert streaming[-1]["properties"]["final"] is True
    assert streaming[-1]["properties"]["speech"] == SENTENCE

    # …then live, with no gap after the replay.
    await again.send(echo("and more"))
    await again.next(is_reply_end)
    assert again.seqs() == list(range(last_seen + 1, again.seqs()[-1] + 1))
    # `last_seq=0` replays everything retained.
    everything = await join(cid, last_seq=0)
    await everything.next(lambda m: m.get("seq") == again.seqs()[-1])
    assert everything.seqs() == list(range(1, again.seqs()[-1] + 1))
    assert (
        everything.messages
        == [m for m in witness.messages if "seq" in m][: len(everything.messages)]
    )


async def test_a_last_seq_beyond_the_newest_event_is_refused_and_live_goes_on(
    transport: Transport, join: Join
) -> None:
    cid = await transport.conversation(echo=True)
    first = await join(cid, last_seq=0)
    await first.next_type("system.replica_joined")
    ahead = await join(cid, last_seq=2**63)
    error = await ahead.next(is_error())
    assert (error["properties"]["code"], error["properties"]["event_type"]) == (
        "invalid_properties",
        "system.resume",
    )
    await ahead.send(echo("live"))
    await ahead.next(is_reply_end)
    assert ahead.of_type("system.error") == [error] and first.of_type("system.error") == []


# ----------------------------------------------------------------------- rate limit

NOPE = '{"event_type": "conversation.nope"}'


async def _burst(peer: Peer, count: int) -> list[Msg]:
    """Send `count` messages that each get exactly one reply: `unknown_event_type` when
    the limit let it through, `rate_limited` when not. Returns the replies."""
    before = len(peer.of_type("system.error"))
    for _ in range(count):
        await peer.send(NOPE)
    await eventually(
        lambda: len(peer.of_type("system.error")) >= before + count,
        timeout=15,
        message=f"{count} replies",
    )
    return peer.of_type("system.error")[before:]


def _codes(replies: list[Msg]) -> list[str]:
    return [m["properties"]["code"] for m in replies]


async def _recovers(peer: Peer) -> None:
    """The limit lets messages through again once time has passed."""
    tries = itertools.count()

    async def one_passes() -> bool:
        next(tries)
        return _codes(await _burst(peer, 1)) == ["unknown_event_type"]

    await eventually(one_passes, timeout=10, interval=0.2, message="the limit recovered")


async def test_the_rate_limit_per_connection_answers_rate_limited_and_recovers(
    transport: Transport, join: Join
) -> None:
    cid = await transport.conversation()
    peer = await join(cid)
    await peer.next_type("system.replica_joined")
    other = await join(cid)
    started = time.monotonic()
    replies = await _burst(peer, 60)
    elapsed = time.monotonic() - started
    passed = _codes(replies).count("unknown_event_type")
    limited = [m for m in replies if m["properties"]["code"] == "rate_limited"]
    assert passed + len(limited) == 60
    # The burst passes; beyond it, only what the rate refilled meanwhile.
    burst, rate = LIMITS["rate_burst"], LIMITS["rate_limit"]
    assert burst <= passed <= burst + math.ceil(rate * elapsed), (passed, elapsed)
    assert any("this connection" in m["properties"]["message"] for m in limited)
    assert all("seq" not in m for m in limited)
    await _recovers(peer)
    assert other.of_type("system.error") == []


async def test_the_rate_limit_per_conversation_is_shared_by_its_connections(
    transport: Transport, join: Join
) -> None:
    cid, elsewhere = await transport.conversation(), await transport.conversation()
    peers = [await join(cid) for _ in range(3)]
    await peers[0].next_type("system.replica_joined")
    bystander = await join(elsewhere)
    await bystander.next_type("system.replica_joined")
    each = LIMITS["rate_burst"] - 1  # no connection goes over its own limit
    started = time.monotonic()
    results = await asyncio.gather(*(_burst(peer, each) for peer in peers))
    elapsed = time.monotonic() - started
    passed = sum(_codes(replies).count("unknown_event_type") for replies in results)
    limited = [
        m for replies in results for m in replies if m["properties"]["code"] != "unknown_event_type"
    ]
    burst, rate = LIMITS["conversation_rate_burst"], LIMITS["conversation_rate_limit"]
    assert passed + len(limited) == 3 * each  # each peer got an answer to each message
    assert burst <= passed <= burst + math.ceil(rate * elapsed), (passed, elapsed)
    assert limited and {m["properties"]["code"] for m in limited} == {"rate_limited"}
    assert all("this conversation" in m["properties"]["message"] for m in limited)
    # Another conversation has its own limit.
    assert _codes(await _burst(bystander, 10)) == ["unknown_event_type"] * 10
    await _recovers(peers[0])
