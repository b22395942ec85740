"""Fixtures of the cluster tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from db_servers import RedisServer

from openreplica.cluster.resp import RespAddress, RespConnection


@pytest.fixture(params=["lean", "redis-py"])
async def writer(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> AsyncIterator[RespConnection | None]:
    """What pipe messages and event appends are sent on: the node's lean connection
    (cluster/resp.py, what `serve` uses), or redis-py (URLs the lean one does not speak)."""
    if request.param == "redis-py":
        yield None
        return
    address = RespAddress.from_url(redis_server.url)
    assert address is not None
    connection = RespConnection(address)
    yield connection
    await connection.aclose()
