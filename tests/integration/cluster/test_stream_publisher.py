"""A conversation's events into its event stream (server/event_stream.py) on a real Redis,
through the node's lean connection (cluster/resp.py): an event broadcast while no
append is in flight is on the socket before the broadcast returns; the ones broadcast
meanwhile follow as one append; a refused append (a stale owner) stops publishing and
nothing after it goes in; an append whose connection dropped is sent again before
anything newer, so the stream holds every seq once and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from db_servers import RedisServer
from eventually import eventually
from redis.asyncio import Redis

from openreplica.cluster import RedisEventStreams
from openreplica.cluster.resp import RespAddress, RespConnection
from openreplica.protocol import encode
from openreplica.protocol.events import ReplicaStartedSpeaking
from openreplica.server.event_stream import StreamPublisher


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def lean(redis_server: RedisServer) -> AsyncIterator[RespConnection]:
    address = RespAddress.from_url(redis_server.url)
    assert address is not None
    connection = RespConnection(address)
    assert await connection.send("PING") == b"PONG"  # connected
    yield connection
    await connection.aclose()


def _event(seq: int) -> tuple[ReplicaStartedSpeaking, bytes]:
    event = ReplicaStartedSpeaking(conversation_id="c", seq=seq)
    return event, encode(event)


def _broadcast(publisher: StreamPublisher, *seqs: int) -> None:
    for seq in seqs:
        publisher.on_event(*_event(seq))


async def _seqs(streams: RedisEventStreams) -> list[int]:
    return [seq for seq, _ in await streams.read("c")]


async def test_an_event_is_on_the_socket_before_its_broadcast_returns(
    lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean)
    publisher = StreamPublisher(streams, "c")
    written = lean.written_at_once
    _broadcast(publisher, 1)
    assert lean.written_at_once == written + 1  # no task had to run first
    _broadcast(publisher, 2, 3)  # while 1 is in flight: held for its reply
    assert lean.written_at_once == written + 1
    await eventually(lambda: lean.written_at_once == written + 2, timeout=5, message="2 and 3 sent")
    await publisher.aclose()
    assert await streams.read("c") == [(s, _event(s)[1]) for s in (1, 2, 3)]


@pytest.mark.parametrize("writer", [True, False], ids=["lean", "redis-py"])
async def test_a_refused_append_stops_publishing(
    writer: bool, lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean if writer else None)
    await streams.append("c", [(1, b"one"), (2, b"two from the new owner")])
    stale = asyncio.Event()
    publisher = StreamPublisher(streams, "c", on_stale=stale.set)
    _broadcast(publisher, 2, 3)  # 3 waits for 2's answer: the refusal
    await asyncio.wait_for(stale.wait(), 5)
    _broadcast(publisher, 4)
    await publisher.aclose()
    assert await streams.read("c") == [(1, b"one"), (2, b"two from the new owner")]


async def test_an_append_whose_connection_dropped_is_sent_again_before_anything_newer(
    lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean)
    publisher = StreamPublisher(streams, "c")
    await redis.client_pause(300, all=False)  # WRITE: 1 waits in Redis
    _broadcast(publisher, 1)
    # ... and its connection drops before the answer
    assert await redis.client_kill_filter(_type="normal", skipme=True) == 1
    _broadcast(publisher, 2, 3)  # not sent past 1
    await publisher.aclose()  # 1 sent again on a new connection, then 2 and 3
    assert await _seqs(streams) == [1, 2, 3]
