"""A relay pipe on a real Redis: each message costs one XADD, and the pipe's stream
still expires when idle, its expiry renewed at most every `PIPE_EXPIRE_EVERY` seconds
(and at once when the clock was set back, and by the close); the other end reads every
message once and in order, then the close."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from db_servers import RedisServer
from redis.asyncio import Redis

from openreplica.cluster import PipeClosed, PipeOpen, RedisPipes
from openreplica.cluster.redis_backend import PIPE_EXPIRE_EVERY, PIPE_IDLE_TTL
from openreplica.cluster.resp import RespConnection


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_a_pipe_renews_its_expiry_now_and_then_and_loses_no_message(
    redis: Redis, writer: RespConnection | None
) -> None:
    now = [1000.0]
    pipes = RedisPipes(redis, lambda: now[0], writer)
    relay_end = await pipes.open("owner", PipeOpen("p1", "c", None, None, stream_events=True))
    owner_end = pipes.attach(PipeOpen("p1", "c", None, None, stream_events=True))
    stream = "or:pipe:p1:to-owner"
    ttl_near_full = PIPE_IDLE_TTL - 5

    await relay_end.send(b"1")  # the first message sets the expiry
    assert await redis.ttl(stream) > ttl_near_full
    await redis.expire(stream, 100)
    now[0] += PIPE_EXPIRE_EVERY - 1
    await relay_end.send(b"2")  # within the interval: a bare XADD
    assert 0 < await redis.ttl(stream) <= 100
    now[0] += 1
    await relay_end.send(b"3")  # the interval has passed: renewed
    assert await redis.ttl(stream) > ttl_near_full
    await redis.expire(stream, 100)
    now[0] -= 3600
    await relay_end.send(b"4")  # a clock set back renews rather than waiting an hour
    assert await redis.ttl(stream) > ttl_near_full
    await redis.expire(stream, 100)
    await relay_end.close(1000, "client left")  # the close always renews
    assert await redis.ttl(stream) > ttl_near_full

    got = [await owner_end.receive() for _ in range(5)]
    assert got == [b"1", b"2", b"3", b"4", PipeClosed(1000, "client left")]
