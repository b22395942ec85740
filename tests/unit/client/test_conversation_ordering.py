"""Conversation over a chaotic in-memory transport: shuffled, delayed, duplicated and
dropped deliveries, dropped connections; every event exactly once, in order.
All waiting happens on a virtual clock."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from openreplica.client import (
    Conversation,
    ConversationEnded,
    ConversationNotFound,
    NotAuthorised,
    ReconnectFailed,
    ReconnectPolicy,
)
from openreplica.client.testing import FakeServer
from openreplica.runtime.clock import VirtualClock, settle


def script(server: FakeServer, n: int, *, deliver: bool = False) -> list[bytes]:
    """A replica_joined, then n - 2 echo-ish events, then the shutdown."""
    frames = [server.emit("system.replica_joined", {"replica_id": "r1"}, deliver=deliver)]
    for i in range(n - 2):
        frames.append(
            server.emit(
                "conversation.utterance.streaming",
                {"role": "replica", "speech": f"w{i}", "content_index": i, "final": False},
                turn_idx=0,
                inference_id="inf-1",
                deliver=deliver,
            )
        )
    frames.append(server.emit("system.shutdown", {"shutdown_reason": "test"}, deliver=deliver))
    return frames


async def drain(conv: Conversation) -> list[int | None]:
    return [event.seq async for event in conv]


async def run_until_done(
    conv: Conversation, clock: VirtualClock, step: float = 0.1, limit: int = 500
) -> list[int | None]:
    consumer = asyncio.create_task(drain(conv))
    for _ in range(limit):
        await clock.advance(step)
        if consumer.done():
            break
    return await asyncio.wait_for(consumer, 5)


@pytest.mark.parametrize("seed", range(12))
async def test_shuffled_duplicated_and_dropped_delivery_yields_each_event_once(
    conv: Conversation, server: FakeServer, clock: VirtualClock, seed: int
) -> None:
    rng = random.Random(seed)
    frames = script(server, 40)
    chaos = [f for f in frames if rng.random() > 0.15]  # drop ~15 %
    chaos += rng.sample(chaos, k=len(chaos) // 4)  # duplicate ~25 %
    rng.shuffle(chaos)
    (first,) = server.live
    for frame in chaos:
        first.push(frame)
    seqs = await run_until_done(conv, clock)
    assert seqs == list(range(1, 41))
    assert conv.skipped_gaps == []
    assert conv.ended and conv.view.shutdown_reason == "test"
    if len(set(chaos)) < len(frames):  # something was dropped: filled by a reconnect
        assert conv.reconnects >= 1
        assert server.connects[0] == 0 and all(s is not None for s in server.connects)


async def test_delay_within_the_bound_needs_no_reconnect(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    frames = script(server, 6)
    (link,) = server.live
    for frame in (frames[0], frames[2], frames[3]):
        link.push(frame)
    await settle()
    assert conv.last_seq == 1  # 3 and 4 are held for seq 2
    await clock.advance(0.4)  # late, but inside the 0.5 s wait
    for frame in (frames[1], frames[4], frames[5]):
        link.push(frame)
    assert await run_until_done(conv, clock) == [1, 2, 3, 4, 5, 6]
    assert conv.reconnects == 0 and server.connects == [0]


async def test_delay_beyond_the_bound_reconnects_with_last_seq(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    frames = script(server, 5)
    (link,) = server.live
    link.push(frames[0])
    link.push(frames[2])
    await settle()
    await clock.advance(0.5)  # the wait is over: gap seq 2, reconnect from last_seq 1
    assert server.connects == [0, 1]
    link.push(frames[1])  # the straggler arrives on the old connection: ignored
    assert await run_until_done(conv, clock) == [1, 2, 3, 4, 5]
    assert conv.duplicates_dropped >= 0 and conv.reconnects == 1


async def test_dropped_connection_mid_reply_resumes_without_gap_or_duplicate(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    server.emit("system.replica_joined", {"replica_id": "r1"})
    server.emit("conversation.replica.started_speaking", turn_idx=0, inference_id="i1")
    await settle()
    server.drop_all()
    # events emitted while the client is away reach nobody live…
    server.emit(
        "conversation.utterance.streaming",
        {"role": "replica", "speech": "Hi", "content_index": 0, "final": True},
        turn_idx=0,
        inference_id="i1",
    )
    seqs = asyncio.create_task(drain(conv))
    await settle()
    # …and come back by replay after the reconnect
    server.emit(
        "conversation.replica.stopped_speaking",
        {"duration": 0.5, "interrupted": False},
        turn_idx=0,
        inference_id="i1",
    )
    server.emit("system.shutdown", {"shutdown_reason": "done"})
    await clock.advance(1)
    assert await asyncio.wait_for(seqs, 5) == [1, 2, 3, 4, 5]
    assert server.connects == [0, 2]
    (said,) = conv.utterances
    assert said.heard == "Hi" and said.done and said.duration == 0.5


async def test_errors_are_delivered_at_once_even_while_events_are_held(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    frames = script(server, 4)
    (link,) = server.live
    link.push(frames[0])
    link.push(frames[2])
    error = conv.wait_for("system.error")
    server.error("invalid_properties", "`properties.text` is required", "conversation.respond")
    await settle()
    got = await asyncio.wait_for(error, 1)
    assert got.seq is None and conv.last_seq == 1
    assert [e.properties.code for e in conv.view.errors] == ["invalid_properties"]


async def test_reconnect_retries_with_backoff_then_fails(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    server.emit("system.replica_joined", {"replica_id": "r1"})
    await settle()
    server.refuse = 1011
    server.drop_all()
    consumer = asyncio.create_task(drain(conv))
    await clock.advance(0.09)
    assert server.connects == [0, 1]  # the first retry is immediate
    await clock.advance(0.02)
    assert server.connects == [0, 1, 1]  # then after 0.1 s
    await clock.advance(0.2)
    assert server.connects == [0, 1, 1, 1]  # then after 0.2 s: 3 attempts, give up
    with pytest.raises(ReconnectFailed):
        await asyncio.wait_for(consumer, 1)
    with pytest.raises(ReconnectFailed):
        await conv.respond("anyone?")


async def test_conversation_ended_while_away_is_filled_from_history(
    server: FakeServer, clock: VirtualClock
) -> None:
    async def history(after: int) -> list[bytes]:
        return [f for f in server.log if json.loads(f)["seq"] > after]

    conv = Conversation("c1", server.transport(), clock=clock, history=history)
    await conv.start(last_seq=0)
    frames = script(server, 5)
    server.live[0].push(frames[0])
    await settle()
    server.refuse = 4410
    server.drop_all()
    assert await run_until_done(conv, clock) == [1, 2, 3, 4, 5]
    await conv.wait_closed()


async def test_conversation_ended_while_away_without_history_raises(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    script(server, 5)
    server.refuse = 4410
    server.drop_all()
    with pytest.raises(ConversationEnded):
        await run_until_done(conv, clock)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (4401, NotAuthorised),
        (403, NotAuthorised),
        (4404, ConversationNotFound),
        (4410, ConversationEnded),
    ],
)
async def test_refused_connections_raise_typed_errors(
    server: FakeServer, code: int, error: type[Exception]
) -> None:
    server.refuse = code
    with pytest.raises(error):
        await Conversation("c1", server.transport()).start()


async def test_close_code_on_a_live_connection_is_terminal(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    server.emit("system.replica_joined", {"replica_id": "r1"})
    pending = conv.wait_for("conversation.utterance")
    server.live[0].drop(4401, "token revoked")
    with pytest.raises(NotAuthorised):
        await run_until_done(conv, clock)
    with pytest.raises(NotAuthorised):
        await pending
    assert server.connects == [0]


async def test_send_during_a_reconnect_waits_and_goes_out_on_the_new_connection(
    conv: Conversation, server: FakeServer, clock: VirtualClock
) -> None:
    server.emit("system.replica_joined", {"replica_id": "r1"})
    await settle()
    server.refuse = 1011
    server.drop_all()
    sending = asyncio.create_task(conv.respond("still there?"))
    await clock.advance(0.05)
    assert not sending.done()
    server.refuse = None
    await clock.advance(0.1)
    await asyncio.wait_for(sending, 1)
    assert server.received_types() == ["conversation.respond"]
    assert server.live[0] is server.connections[-1]


async def test_live_join_and_close(server: FakeServer, clock: VirtualClock) -> None:
    server.emit("system.replica_joined", {"replica_id": "r1"})  # before we join
    conv = await Conversation("c1", server.transport(), clock=clock).start()
    server.emit("conversation.user.started_speaking", turn_idx=0)
    consumer = asyncio.create_task(drain(conv))
    await settle()
    await conv.close()
    assert await asyncio.wait_for(consumer, 1) == [2]
    assert server.connects == [None]
    await conv.close()  # idempotent
    await conv.wait_closed()


async def test_gap_that_cannot_be_filled_is_skipped_after_the_retries(
    server: FakeServer, clock: VirtualClock
) -> None:
    class Amnesic(FakeServer):
        def _replay(self, conn: object, last_seq: int) -> None:  # retains nothing
            return None

    server = Amnesic("c1")
    conv = Conversation(
        "c1", server.transport(), clock=clock, policy=ReconnectPolicy(gap_retries=1)
    )
    await conv.start(last_seq=0)
    frames = script(server, 4)
    for frame in (frames[0], frames[2], frames[3]):
        server.live[0].push(frame)
    assert await run_until_done(conv, clock) == [1, 3, 4]
    assert [(g.first, g.last) for g in conv.skipped_gaps] == [(2, 2)]
    assert len(server.connects) == 2  # one reconnect asked for it
