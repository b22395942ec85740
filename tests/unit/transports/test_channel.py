"""The participant channel over an in-memory peer on a virtual clock."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence

import pytest

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock, settle
from openreplica.transports import (
    ChannelLimits,
    ConversationChannel,
    MemoryPeer,
    TokenBucket,
    connect_memory_peer,
)

ECHO = '{"event_type": "conversation.echo", "properties": {"text": "%s"}}'


async def _runtime(capacity: int = 10_000) -> tuple[ConversationRuntime, VirtualClock]:
    clock = VirtualClock()
    runtime = ConversationRuntime(
        "c1",
        EngineSettings(output_sample_rate=16000),
        RuntimePlugins(tts=ScriptedTTS(), llm=ScriptedLLM.replies("Fine.", "Fine.")),
        clock,
        sequencer=p.Sequencer("c1", capacity=capacity),
    )
    await runtime.start()
    return runtime, clock


def _seqs(events: Sequence[object]) -> list[int]:
    return [e.seq for e in events if isinstance(e, p.Event) and e.seq is not None]


BAD_MESSAGES = [
    (b"{nope", "invalid_json"),
    (b"[]", "invalid_json"),
    (b'{"event_type": "conversation.fly"}', "unknown_event_type"),
    (b'{"event_type": "conversation.respond", "properties": {}}', "invalid_properties"),
    (b'{"event_type": "conversation.interrupt", "conversation_id": "c2"}', "wrong_conversation"),
    (
        b'{"event_type": "conversation.echo", "properties": {"text": "' + b"x" * 600 + b'"}}',
        "message_too_large",
    ),
]


@pytest.mark.parametrize(("data", "code"), BAD_MESSAGES)
async def test_each_error_goes_to_the_sender_only_and_the_next_message_works(
    data: bytes, code: str
) -> None:
    runtime, clock = await _runtime()
    sender_channel, sender = await connect_memory_peer(
        runtime, clock, limits=ChannelLimits(max_message_bytes=512)
    )
    _, other = await connect_memory_peer(runtime, clock)
    sender_channel.receive(data)
    await settle()
    errors = [e for e in sender.events() if isinstance(e, p.ErrorEvent)]
    assert [e.properties.code for e in errors] == [code]
    assert errors[0].seq is None
    assert other.events() == []
    sender_channel.receive(ECHO % "Still here.")
    await clock.advance(2.0)
    for peer in (sender, other):
        kinds = [type(e) for e in peer.events()]
        assert p.ReplicaStartedSpeaking in kinds and p.ReplicaStoppedSpeaking in kinds


async def test_rate_limit_answers_rate_limited_and_recovers() -> None:
    runtime, clock = await _runtime()
    channel, peer = await connect_memory_peer(
        runtime, clock, limits=ChannelLimits(rate=2.0, burst=3)
    )
    for _ in range(5):
        channel.receive(
            '{"event_type": "conversation.append_context", "properties": {"context": "x"}}'
        )
    await settle()
    codes = [e.properties.code for e in peer.events() if isinstance(e, p.ErrorEvent)]
    assert codes == ["rate_limited", "rate_limited"]
    await clock.advance(1.0)
    channel.receive(ECHO % "ok")
    await settle()
    assert len([e for e in peer.events() if isinstance(e, p.ErrorEvent)]) == 2


def test_token_bucket_refills_with_time() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.allow(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.allow(0.1) and not bucket.allow(0.1)


@pytest.mark.parametrize("how", ["last_seq", "system.resume"])
async def test_reconnect_replays_what_was_missed_with_no_gap_and_no_duplicate(how: str) -> None:
    runtime, clock = await _runtime()
    first, peer1 = await connect_memory_peer(runtime, clock, last_seq=0)
    first.receive(ECHO % "One two three four five six.")
    await clock.advance(0.5)  # in the middle of the reply
    seen = _seqs(peer1.events())
    await first.close()
    await clock.advance(0.3)  # events happen while disconnected
    if how == "last_seq":
        second, peer2 = await connect_memory_peer(runtime, clock, last_seq=seen[-1])
    else:
        second, peer2 = await connect_memory_peer(runtime, clock)
        second.receive(
            b'{"message_type": "system", "event_type": "system.resume", '
            b'"properties": {"last_seq": %d}}' % seen[-1]
        )
    await clock.advance(2.0)
    resumed = _seqs(peer2.events())
    assert seen + resumed == list(range(1, runtime.sequencer.last_seq + 1))
    assert any(isinstance(e, p.ReplicaStoppedSpeaking) for e in peer2.events())


async def test_live_only_without_last_seq_and_everything_with_last_seq_zero() -> None:
    runtime, clock = await _runtime()
    _, live = await connect_memory_peer(runtime, clock)
    _, everything = await connect_memory_peer(runtime, clock, last_seq=0)
    await settle()
    assert _seqs(live.events()) == []
    assert _seqs(everything.events()) == [1]  # system.replica_joined


async def test_replay_older_than_the_log_uses_history_or_says_it_is_gone() -> None:
    runtime, clock = await _runtime(capacity=3)
    for i in range(3):
        runtime.submit(p.decode_interaction(ECHO % f"Hello number {i}."))
        await clock.advance(1.0)
    assert runtime.sequencer.log.first_seq > 1  # type: ignore[operator]
    stored = {e.seq: p.encode(e) for e in runtime.sequencer.log if e.seq is not None}

    async def history(after: int) -> list[tuple[int, bytes]]:
        return [(s, d) for s, d in sorted(stored.items()) if s > after]

    _, with_history = await connect_memory_peer(runtime, clock, last_seq=0, history=history)
    await settle()
    assert _seqs(with_history.events()) == sorted(stored)
    _, without = await connect_memory_peer(runtime, clock, last_seq=0)
    await settle()
    errors = [e for e in without.events() if isinstance(e, p.ErrorEvent)]
    assert errors and errors[0].properties.code == "replay_unavailable"


async def test_shutdown_is_delivered_last_and_finishes_the_channel() -> None:
    runtime, clock = await _runtime()
    channel, peer = await connect_memory_peer(runtime, clock)
    await runtime.shutdown("participant_left_timeout reached")
    await settle()
    assert isinstance(peer.events()[-1], p.Shutdown)
    assert channel.finished.is_set()


async def test_concurrent_resumes_older_than_the_log_each_replay_in_full() -> None:
    """Two `system.resume` whose replays both wait on storage (the log no longer covers
    them) used to share one buffer: the second failed with a TypeError."""
    runtime, clock = await _runtime(capacity=3)
    stored: dict[int, bytes] = {}
    runtime.subscribe(lambda event, data: stored.__setitem__(event.seq or 0, data))
    for i in range(3):
        runtime.submit(p.decode_interaction(ECHO % f"Hello number {i}."))
        await clock.advance(1.0)
    gate = asyncio.Event()

    async def slow_history(after: int) -> list[tuple[int, bytes]]:
        await gate.wait()
        return [(s, d) for s, d in sorted(stored.items()) if s > after]

    failures: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: failures.append(context))
    channel, peer = await connect_memory_peer(runtime, clock, history=slow_history)
    first, second = 1, 2  # both older than the log
    for last_seq in (first, second):
        channel.receive(
            b'{"message_type": "system", "event_type": "system.resume", '
            b'"properties": {"last_seq": %d}}' % last_seq
        )
    channel.receive(ECHO % "Live while replaying.")
    await clock.advance(2.0)  # live events arrive while both replays wait
    gate.set()
    await settle()
    gc.collect()  # an exception nobody retrieved is reported here
    assert failures == []
    assert not [e for e in peer.events() if isinstance(e, p.ErrorEvent)]
    newest = runtime.sequencer.last_seq
    assert _seqs(peer.events()) == [
        *range(first + 1, newest + 1),
        *range(second + 1, newest + 1),
    ]


async def test_a_failure_handling_one_message_is_answered_logged_once_and_survived(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, clock = await _runtime()
    channel, peer = await connect_memory_peer(runtime, clock)
    channel.receive(b"{nope")  # a reply already queued must not be lost

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(runtime, "submit", broken)
        with caplog.at_level(logging.DEBUG, logger="openreplica.transports.channel"):
            channel.receive(ECHO % "one")
            channel.receive(ECHO % "two")
    await settle()
    codes = [e.properties.code for e in peer.events() if isinstance(e, p.ErrorEvent)]
    assert codes == ["invalid_json", "internal_error", "internal_error"]
    levels = [r.levelno for r in caplog.records if "failed handling" in r.getMessage()]
    assert levels == [logging.ERROR, logging.DEBUG]
    channel.receive(ECHO % "Still here.")
    await clock.advance(2.0)
    assert any(isinstance(e, p.ReplicaStoppedSpeaking) for e in peer.events())


async def test_the_conversation_bucket_is_shared_by_its_connections() -> None:
    runtime, clock = await _runtime()
    shared = TokenBucket(rate=2.0, burst=3, now=clock.now())
    limits = ChannelLimits(rate=100.0, burst=100)
    peers = []
    for _ in range(2):
        peer = MemoryPeer()
        channel = ConversationChannel(runtime, peer.send, clock, limits, None, shared)
        await channel.open()
        peers.append((channel, peer))
    for i in range(6):
        channel, _ = peers[i % 2]
        channel.receive(
            '{"event_type": "conversation.append_context", "properties": {"context": "x"}}'
        )
    await settle()
    errors = [e for _, peer in peers for e in peer.events() if isinstance(e, p.ErrorEvent)]
    assert [e.properties.code for e in errors] == ["rate_limited"] * 3
    assert all("conversation" in e.properties.message for e in errors)
    await clock.advance(1.0)  # two tokens back
    peers[0][0].receive(ECHO % "ok")
    await settle()
    assert len([e for _, p_ in peers for e in p_.events() if isinstance(e, p.ErrorEvent)]) == 3


async def test_a_last_seq_beyond_the_newest_event_is_refused_and_live_goes_on() -> None:
    runtime, clock = await _runtime()
    for ahead in (2**63, 2**64 + 5, 3):
        last_seq = runtime.sequencer.last_seq + ahead
        channel, peer = await connect_memory_peer(runtime, clock, last_seq=last_seq)
        await settle()
        (error,) = peer.events()
        assert isinstance(error, p.ErrorEvent)
        assert error.properties.code == "invalid_properties"
        channel.receive(ECHO % "Live.")
        await clock.advance(2.0)
        assert any(isinstance(e, p.ReplicaStoppedSpeaking) for e in peer.events())
        await channel.close()
