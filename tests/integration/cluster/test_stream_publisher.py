"""A conversation's events into its event stream (server/event_stream.py) on a real Redis,
through the node's lean connection (cluster/resp.py): every event of a burst is on the
socket before its broadcast returns (several appends in flight; on redis-py's path one
at a time, the rest as one batch); once another node marked itself owner every append
is refused, whatever its seq, publishing stops and nothing after goes in; appends whose
connection dropped are sent again, in order, before anything newer, so the stream holds
every seq once and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence

import pytest
from db_servers import RedisServer
from eventually import eventually
from redis.asyncio import Redis

from openreplica.cluster import RedisEventStreams
from openreplica.cluster.events import Entry
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


async def test_a_bursts_events_are_all_on_the_socket_before_their_broadcasts_return(
    lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean, node_id="a")
    publisher = StreamPublisher(streams, "c")
    written = lean.written_at_once
    _broadcast(publisher, 1)
    assert lean.written_at_once == written + 1  # no task had to run first
    _broadcast(publisher, 2, 3, 4, 5)  # while 1 is in flight: each sent at once too
    assert lean.written_at_once == written + 5
    await publisher.aclose()
    assert await streams.read("c") == [(s, _event(s)[1]) for s in (1, 2, 3, 4, 5)]


async def test_on_redis_pys_path_the_events_broadcast_meanwhile_go_as_one_append(
    redis: Redis,
) -> None:
    streams = RedisEventStreams(redis, node_id="a")
    appends: list[list[int]] = []
    append = streams.append

    def counted(conversation_id: str, events: Sequence[Entry]) -> Awaitable[None]:
        appends.append([seq for seq, _ in events])
        return append(conversation_id, events)

    streams.append = counted  # type: ignore[method-assign]
    publisher = StreamPublisher(streams, "c")
    _broadcast(publisher, 1, 2, 3)
    await publisher.aclose()
    assert appends == [[1], [2, 3]]
    assert await _seqs(streams) == [1, 2, 3]


@pytest.mark.parametrize("writer", [True, False], ids=["lean", "redis-py"])
async def test_a_node_another_marked_itself_owner_of_is_refused_whatever_the_seq(
    writer: bool, lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean if writer else None, node_id="a")
    await streams.append("c", [(1, b"one")])
    await RedisEventStreams(redis, node_id="b").mark_owner("c", 1, "b")  # no event yet
    stale: list[None] = []
    publisher = StreamPublisher(streams, "c", on_stale=lambda: stale.append(None))
    _broadcast(publisher, 2, 3, 4)  # above the newest: the per-seq fence would let them in
    await eventually(lambda: stale == [None], timeout=5, message="stale")
    _broadcast(publisher, 5)
    await publisher.aclose()
    assert stale == [None]  # once
    assert await streams.read("c") == [(1, b"one")]
    new_owner = RedisEventStreams(redis, node_id="b")
    await new_owner.append("c", [(2, b"two from b")])
    assert await streams.read("c") == [(1, b"one"), (2, b"two from b")]


@pytest.mark.parametrize("writer", [True, False], ids=["lean", "redis-py"])
async def test_a_refused_append_stops_publishing(
    writer: bool, lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean if writer else None, node_id="a")
    new_owner = RedisEventStreams(redis, node_id="b")
    await streams.append("c", [(1, b"one")])
    await new_owner.mark_owner("c", 1, "b")
    await new_owner.append("c", [(2, b"two from the new owner")])
    stale = asyncio.Event()
    publisher = StreamPublisher(streams, "c", on_stale=stale.set)
    _broadcast(publisher, 2, 3)
    await asyncio.wait_for(stale.wait(), 5)
    _broadcast(publisher, 4)
    await publisher.aclose()
    assert await streams.read("c") == [(1, b"one"), (2, b"two from the new owner")]


async def test_appends_whose_connection_dropped_are_sent_again_in_order_before_anything_newer(
    lean: RespConnection, redis: Redis
) -> None:
    streams = RedisEventStreams(redis, writer=lean, node_id="a")
    publisher = StreamPublisher(streams, "c")
    await redis.client_pause(300, all=False)  # WRITE: 1, 2 and 3 wait in Redis
    written = lean.written_at_once
    _broadcast(publisher, 1, 2, 3)
    assert lean.written_at_once == written + 3  # all three in flight
    # ... and their connection drops before the answers
    assert await redis.client_kill_filter(_type="normal", skipme=True) == 1
    _broadcast(publisher, 4, 5)  # not sent past 1, 2 and 3
    await publisher.aclose()  # 1, 2, 3 sent again on a new connection, then 4 and 5
    assert await _seqs(streams) == [1, 2, 3, 4, 5]
