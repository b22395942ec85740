"""The lean Redis connection (cluster/resp.py) on a real Redis: a command is on the socket
when `send` returns; replies come back to the right command, in order; commands made
before the connection is up wait and keep their order; a dropped connection fails what
was not answered and the next command connects again (scripts loaded again, also after
a `SCRIPT FLUSH`); the URLs it speaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from db_servers import RedisServer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError

from openreplica.cluster.resp import RespAddress, RespConnection


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url.replace("/0", "/3"))
    yield client
    await client.aclose()


@pytest.fixture
async def lean(redis_server: RedisServer) -> AsyncIterator[RespConnection]:
    address = RespAddress.from_url(redis_server.url.replace("/0", "/3"))
    assert address is not None
    connection = RespConnection(address)
    yield connection
    await connection.aclose()


async def test_commands_made_before_the_connection_is_up_keep_their_order_and_database(
    lean: RespConnection, redis: Redis
) -> None:
    sent = [lean.send("XADD", "s", f"{i}-0", "d", b"x" * i) for i in range(1, 6)]
    assert lean.written_at_once == 0  # connecting: they wait, in order
    assert await asyncio.gather(*sent) == [f"{i}-0".encode() for i in range(1, 6)]
    assert await redis.xlen("s") == 5  # in database 3 (SELECT in the handshake)


async def test_a_command_is_on_the_socket_when_send_returns(
    lean: RespConnection, redis: Redis
) -> None:
    await lean.send("PING")  # connected
    before = lean.written_at_once
    first = lean.send("XADD", "s", "*", "d", "a")
    second = lean.send("XADD", "s", "*", "d", "b")
    assert lean.written_at_once == before + 2  # written, not queued for a task
    ids = list(await asyncio.gather(first, second))
    entries: Any = await redis.xrange("s")
    assert [entry_id for entry_id, _ in entries] == ids
    assert [fields[b"d"] for _, fields in entries] == [b"a", b"b"]


async def test_an_error_reply_fails_its_command_only(lean: RespConnection) -> None:
    ok = lean.send("SET", "k", "1")
    wrong = lean.send("LPUSH", "k", "x")  # WRONGTYPE
    after = lean.send("INCR", "k")
    assert await ok == b"OK"
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await wrong
    assert await after == 2


async def test_a_check_turns_the_reply_into_the_result_or_an_error(lean: RespConnection) -> None:
    def positive(reply: object) -> int:
        assert isinstance(reply, int)
        if reply <= 0:
            raise ValueError("not positive")
        return reply * 10

    assert await lean.send("INCR", "n", check=positive) == 10
    with pytest.raises(ValueError, match="not positive"):
        await lean.send("DECRBY", "n", 5, check=positive)


async def test_a_dropped_connection_fails_what_was_unanswered_and_the_next_command_reconnects(
    lean: RespConnection, redis: Redis
) -> None:
    sha = lean.register_script("return redis.call('INCR', KEYS[1])")
    assert await lean.send("EVALSHA", sha, 1, "n") == 1
    name = await lean.send("CLIENT", "GETNAME")
    assert name is None
    await lean.send("CLIENT", "SETNAME", "lean")
    blocked = lean.send("BLPOP", "nothing", 10)  # unanswered until the connection drops
    await redis.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(ConnectionError):
        await blocked
    assert await lean.send("EVALSHA", sha, 1, "n") == 2  # a new connection, script loaded


async def test_flushed_scripts_are_loaded_again(lean: RespConnection, redis: Redis) -> None:
    sha = lean.register_script("return 7")
    assert await lean.send("EVALSHA", sha, 0) == 7
    await redis.script_flush()
    with pytest.raises(ResponseError, match="NOSCRIPT"):
        await lean.send("EVALSHA", sha, 0)
    assert await lean.send("EVALSHA", sha, 0) == 7  # the NOSCRIPT dropped the connection


async def test_a_redis_that_is_down_fails_the_command_and_a_restarted_one_serves(
    redis_server: RedisServer, lean: RespConnection
) -> None:
    assert await lean.send("PING") == b"PONG"
    redis_server.stop()
    with pytest.raises(ConnectionError):
        await lean.send("PING")
    redis_server.start()
    assert await lean.send("PING") == b"PONG"


async def test_a_closed_connection_refuses_commands(lean: RespConnection) -> None:
    await lean.aclose()
    with pytest.raises(ConnectionError):
        await lean.send("PING")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://127.0.0.1:6400/2", RespAddress("127.0.0.1", 6400, db=2)),
        ("redis://localhost", RespAddress("localhost", 6379)),
        ("redis://u:p%40ss@h:1/0", RespAddress("h", 1, username="u", password="p@ss")),
        ("redis://:secret@h:1", RespAddress("h", 1, password="secret")),
        ("unix:///run/redis.sock", RespAddress(path="/run/redis.sock")),
        ("rediss://h:1/0", None),  # TLS: redis-py's
        ("redis://h:1/0?socket_timeout=3", None),  # options: redis-py's
        ("redis://h:1/x", None),
    ],
)
def test_the_urls_it_speaks(url: str, address: RespAddress | None) -> None:
    assert RespAddress.from_url(url) == address
