"""The participant channel over an in-memory peer on a virtual clock: replay from storage,
the shutdown, concurrent resumes, failures. What every transport shares (errors to the
sender only, gapless resume, rate limits) is the transport contract
(tests/integration/transports)."""

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


def test_token_bucket_refills_with_time() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.allow(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.allow(0.1) and not bucket.allow(0.1)


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


async def test_once_halted_every_message_is_refused_and_the_refusals_can_be_awaited() -> None:
    """The conversation moves to another cluster node: what arrives after the halt is
    answered `conversation_moving` (never handled, never silently dropped), and `sent`
    returns once the refusals have gone out (the socket is closed after)."""
    runtime, clock = await _runtime()
    channel, peer = await connect_memory_peer(runtime, clock)
    await runtime.halt()
    newest = runtime.sequencer.last_seq
    channel.receive(ECHO % "after the halt")
    channel.receive(b"{nope")  # even a bad one: the answer is that it moves
    await channel.sent()
    errors = [e for e in peer.events() if isinstance(e, p.ErrorEvent)]
    assert [e.properties.code for e in errors] == ["conversation_moving"] * 2
    assert runtime.sequencer.last_seq == newest  # nothing handled
    await channel.sent()  # nothing queued: at once
    await channel.close()
