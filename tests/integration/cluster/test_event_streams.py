"""A conversation's event stream on a real Redis: appends only go forward (a stale owner
is refused and adds nothing after the refusal), reads and follows give each `seq` once in
order, owner marks come between the events they separate; once another node marked itself
owner (or claimed the conversation) every append of this node is refused whole, whatever
its seqs; and `claim` counts a conversation taken over on its new node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest
from db_servers import RedisServer
from eventually import eventually
from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from openreplica.cluster import (
    LocalCoordinator,
    NodeStatus,
    NotOwner,
    OwnerChanged,
    RedisCoordinator,
    RedisEventStreams,
    StaleAppend,
)
from openreplica.cluster.resp import RespAddress, RespConnection


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def _events(*seqs: int) -> list[tuple[int, bytes]]:
    return [(s, f'{{"seq":{s}}}'.encode()) for s in seqs]


async def test_appends_go_forward_only_and_reads_give_each_seq_once(
    redis: Redis, writer: RespConnection | None
) -> None:
    streams = RedisEventStreams(redis, writer=writer)
    assert await streams.newest("c") == 0
    await streams.append("c", _events(1, 2, 3))
    await streams.append("c", _events(4))
    assert await streams.read("c") == _events(1, 2, 3, 4)
    assert await streams.read("c", 2) == _events(3, 4)
    assert await streams.newest("c") == 4
    with pytest.raises(StaleAppend):  # a node that lost the conversation, still writing
        await streams.append("c", _events(4, 5))
    assert await streams.read("c", 3) == _events(4)  # nothing after the refusal went in
    assert 0 < await redis.ttl("or:events:c") <= 3600  # expires when idle


async def test_followers_see_the_owner_mark_before_the_new_owners_events(
    redis: Redis, writer: RespConnection | None
) -> None:
    streams = RedisEventStreams(redis, writer=writer, node_id="node-b")
    await streams.append("c", _events(1, 2))
    seen: list[tuple[int, bytes] | OwnerChanged] = []

    async def follow() -> None:
        async for batch in streams.follow("c", 1):
            seen.extend(batch)

    follower = asyncio.create_task(follow())
    await streams.mark_owner("c", 2, "node-b")
    await streams.append("c", _events(3))
    await eventually(lambda: len(seen) >= 3, timeout=5, message="three items followed")
    follower.cancel()
    assert seen == [*_events(2), OwnerChanged(2, "node-b"), *_events(3)]
    assert await streams.read("c") == _events(1, 2, 3)  # marks are not events
    assert await streams.newest("c") == 3


async def test_once_another_node_is_owner_this_nodes_appends_are_refused_whole(
    redis: Redis, writer: RespConnection | None
) -> None:
    a = RedisEventStreams(redis, writer=writer, node_id="a")
    b = RedisEventStreams(redis, node_id="b")
    await a.append("c", _events(1, 2))
    await b.mark_owner("c", 2, "b")
    assert await redis.get("or:events:c:owner") == b"b"
    assert 0 < await redis.ttl("or:events:c:owner") <= 3600  # expires with the stream
    with pytest.raises(NotOwner):  # above the newest: the per-seq fence would take them
        await a.append("c", _events(3, 4))
    await b.append("c", _events(3))
    with pytest.raises(NotOwner):
        await a.append("c", _events(4))
    assert await a.read("c") == _events(1, 2, 3)
    await a.claim("c")  # moved back to a (a takeover's first step there)
    with pytest.raises(NotOwner):
        await b.append("c", _events(4))
    await a.append("c", _events(4))
    assert await a.read("c") == _events(1, 2, 3, 4)


async def test_an_owner_mark_refused_sets_no_owner(redis: Redis) -> None:
    streams = RedisEventStreams(redis, node_id="a")
    await streams.append("c", _events(1, 2))
    with pytest.raises(StaleAppend):  # events after 1 exist
        await streams.mark_owner("c", 1, "b")
    assert await redis.get("or:events:c:owner") is None
    await streams.append("c", _events(3))  # still a's
    assert await streams.newest("c") == 3


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_claim_counts_a_conversation_taken_over(backend: str, redis: Redis) -> None:
    coordinator = (
        LocalCoordinator(lambda: 1000.0) if backend == "memory" else RedisCoordinator(redis)
    )
    await coordinator.heartbeat(NodeStatus("b", "http://b", 4), 30)
    await coordinator.claim("b")
    await coordinator.claim("gone")  # an unknown node: nothing to count
    assert {n.node_id: n.load for n in await coordinator.nodes()} == {"b": 1}
    await coordinator.release("b")
    assert [n.load for n in await coordinator.nodes()] == [0]


async def test_a_follow_given_up_frees_its_lean_connection(
    redis: Redis, redis_server: RedisServer
) -> None:
    writer, streams = _lean_streams(redis, redis_server)
    seen: list[tuple[int, bytes] | OwnerChanged] = []

    async def clients() -> int:
        return len(await redis.client_list())

    follower = asyncio.create_task(_follow(streams, seen))
    await streams.append("c", _events(1))
    await eventually(lambda: seen == _events(1), timeout=5, message="followed")
    assert await clients() == 3  # this test's, the writer, the follower's blocking read
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)
    await eventually(lambda: _equals(clients(), 2), timeout=5, message="the read's closed")
    await writer.aclose()


def _lean_streams(
    redis: Redis, redis_server: RedisServer
) -> tuple[RespConnection, RedisEventStreams]:
    """Event streams whose appends and follows go over lean connections."""
    address = RespAddress.from_url(redis_server.url)
    assert address is not None
    writer = RespConnection(address)
    return writer, RedisEventStreams(redis, writer=writer)


async def _follow(streams: RedisEventStreams, seen: list[tuple[int, bytes] | OwnerChanged]) -> None:
    async for batch in streams.follow("c", 0):
        seen.extend(batch)


async def _equals(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_a_lean_follow_whose_connection_dropped_reads_on(
    redis: Redis, redis_server: RedisServer
) -> None:
    writer, streams = _lean_streams(redis, redis_server)
    seen: list[tuple[int, bytes] | OwnerChanged] = []

    async def appended(seq: int) -> bool:
        try:
            await streams.append("c", _events(seq))
        except StaleAppend:
            pass  # it went in before its answer was lost
        except ConnectionError:
            return False  # the writer's connection was killed too: again
        return True

    follower = asyncio.create_task(_follow(streams, seen))
    await streams.append("c", _events(1))
    await eventually(lambda: seen == _events(1), timeout=5, message="followed")
    assert await redis.client_kill_filter(_type="normal", skipme=True) == 2
    await eventually(lambda: appended(2), timeout=5, message="appended")
    await eventually(lambda: seen == _events(1, 2), timeout=5, message="followed on")
    assert not follower.done()
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)
    await writer.aclose()
