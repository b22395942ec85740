"""The node registry and placement, in memory and on a real Redis: least-loaded first,
never over capacity even under concurrent placements, expiry, draining, and
re-registration after Redis forgot everything."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

import pytest
from db_servers import RedisServer
from eventually import eventually
from redis.asyncio import Redis

from openreplica.cluster import Coordinator, LocalCoordinator, NodeStatus, RedisCoordinator


@pytest.fixture(params=["memory", "redis"])
async def coordinator(request: pytest.FixtureRequest) -> AsyncIterator[Coordinator]:
    if request.param == "memory":
        yield LocalCoordinator(lambda: 1000.0)  # time stands still: nothing expires
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    made = RedisCoordinator(Redis.from_url(server.url))
    yield made
    await made.aclose()


def _node(name: str, capacity: int, load: int = 0, draining: bool = False) -> NodeStatus:
    return NodeStatus(name, f"http://{name}", capacity, load=load, draining=draining)


async def test_placement_fills_the_least_loaded_node_and_stops_at_capacity(
    coordinator: Coordinator,
) -> None:
    assert await coordinator.heartbeat(_node("a", 2, load=1), 30)
    assert await coordinator.heartbeat(_node("b", 4), 30)
    assert not await coordinator.heartbeat(_node("b", 4), 30)  # known: not new
    placed = [await coordinator.place() for _ in range(5)]
    assert placed[0] == "b"  # a is half full, b empty
    assert collections.Counter(placed) == {"a": 1, "b": 4}
    assert await coordinator.place() is None
    await coordinator.release("a")
    assert await coordinator.place() == "a"


async def test_placement_skips_the_nodes_it_is_told_to(coordinator: Coordinator) -> None:
    await coordinator.heartbeat(_node("a", 2), 30)
    await coordinator.heartbeat(_node("b", 2, load=1), 30)
    assert await coordinator.place(exclude=["a"]) == "b"  # a is the emptier one
    assert await coordinator.place(exclude=["a"]) is None  # b full, a excluded
    assert await coordinator.place(exclude=["a", "b"]) is None
    assert {n.node_id: n.load for n in await coordinator.nodes()} == {"a": 0, "b": 2}
    assert await coordinator.place() == "a"


async def test_nodes_without_a_capacity_share_placements_by_load(
    coordinator: Coordinator,
) -> None:
    await coordinator.heartbeat(_node("a", 0, load=1), 30)
    await coordinator.heartbeat(_node("b", 0), 30)
    placed = [await coordinator.place() for _ in range(5)]
    assert placed[:2] == ["b", "a"]  # b had one fewer; then they alternate by id
    assert collections.Counter(placed) == {"a": 2, "b": 3}


async def test_concurrent_placements_never_overfill(coordinator: Coordinator) -> None:
    for name in ("a", "b", "c"):
        await coordinator.heartbeat(_node(name, 5), 30)
    placed = await asyncio.gather(*(coordinator.place() for _ in range(40)))
    assert collections.Counter(placed) == {"a": 5, "b": 5, "c": 5, None: 25}
    loads = {n.node_id: n.load for n in await coordinator.nodes()}
    assert loads == {"a": 5, "b": 5, "c": 5}


async def test_a_draining_node_or_one_that_left_takes_no_placements(
    coordinator: Coordinator,
) -> None:
    await coordinator.heartbeat(_node("a", 0), 30)
    await coordinator.heartbeat(_node("b", 0), 30)
    await coordinator.heartbeat(_node("a", 0, draining=True), 30)
    assert {await coordinator.place() for _ in range(3)} == {"b"}
    await coordinator.leave("b")
    assert await coordinator.place() is None
    assert [n.node_id for n in await coordinator.nodes()] == ["a"]


async def test_a_silent_node_expires_and_reregisters_with_its_load(
    redis_server: RedisServer,
) -> None:
    redis = Redis.from_url(redis_server.url)
    coordinator = RedisCoordinator(redis)
    try:
        await coordinator.heartbeat(_node("a", 3), 0.2)
        await coordinator.place()

        async def gone() -> bool:
            return not await coordinator.nodes()

        await eventually(gone, timeout=5, message="node a expired")
        assert await coordinator.place() is None
        # Redis restarted empty: the next heartbeat registers again with the node's count
        await redis.flushall()
        assert await coordinator.heartbeat(_node("a", 3, load=2), 30)
        assert [n.load for n in await coordinator.nodes()] == [2]
        assert await coordinator.place() == "a"
        assert await coordinator.place() is None
    finally:
        await coordinator.aclose()
