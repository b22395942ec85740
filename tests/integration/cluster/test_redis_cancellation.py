"""The Redis loops that only end when cancelled (following an event stream, reading a
node's relay inbox, reading a pipe) end even when a Redis call lost the cancellation, as
redis-py's do on Python 3.11 when the task is cancelled just as a command's send
completes (cluster/cancellation.py). Before, a relay's stream follower cancelled that
way kept its worker from stopping on SIGTERM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from db_servers import RedisServer
from redis.asyncio import Redis

from openreplica.cluster import PipeOpen, RedisEventStreams, RedisPipes


class _LosesCancellation(Redis):
    """A client whose XREAD returns nothing instead of raising when it is cancelled
    (redis-py's own does that on 3.11 when the cancellation lands in the send)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading = asyncio.Event()
        #: XREADs that returned to a task asked to cancel
        self.lost = 0

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        self.reading.set()
        try:
            answer = await super().xread(*args, **kwargs)
        except asyncio.CancelledError:
            answer = []
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self.lost += 1
        return answer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[_LosesCancellation]:
    client = _LosesCancellation.from_url(redis_server.url)
    assert isinstance(client, _LosesCancellation)
    yield client
    await client.aclose()


async def _follow(redis: Redis) -> None:
    async for _ in RedisEventStreams(redis).follow("c", 0):
        pass


async def _accept(redis: Redis) -> None:
    async for _ in RedisPipes(redis).accept("node-a"):
        pass


async def _receive(redis: Redis) -> None:
    pipe = RedisPipes(redis).attach(PipeOpen("p1", "c", None, None))
    await pipe.receive()


@pytest.mark.parametrize("loop", [_follow, _accept, _receive], ids=lambda f: f.__name__)
async def test_a_blocking_read_loop_ends_when_its_cancellation_was_lost(
    loop: Callable[[Redis], Coroutine[Any, Any, None]], redis: _LosesCancellation
) -> None:
    task = asyncio.create_task(loop(redis))
    await redis.reading.wait()  # blocked in XREAD
    task.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert redis.lost == 1  # the cancellation reached XREAD and was lost there
