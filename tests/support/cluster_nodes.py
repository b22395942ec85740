"""Real `openreplica serve` node processes on loopback joined into one cluster (a real
Redis and PostgreSQL from tests/support/db_servers.py), stopped by pid (SIGKILL)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db_servers import PostgresServer, RedisServer
from server_process import ServerProcess

__all__ = ["API_KEY", "KEY", "Nodes", "make_nodes", "node_id", "running_nodes"]

API_KEY = "k-cluster"
KEY = {"x-api-key": API_KEY}


def node_id(node: ServerProcess) -> str:
    return f"node-{node.port}"


@dataclass
class Nodes:
    nodes: list[ServerProcess]
    #: the SQLAlchemy URL of the nodes' PostgreSQL database
    database: str

    def by_id(self, wanted: str) -> ServerProcess:
        return next(n for n in self.nodes if node_id(n) == wanted)

    def others(self, wanted: str) -> list[ServerProcess]:
        return [n for n in self.nodes if node_id(n) != wanted]

    def other_than(self, wanted: str) -> ServerProcess:
        return self.others(wanted)[0]

    def create(self, via: ServerProcess, **body: Any) -> dict[str, Any]:
        return via.post("/v2/conversations", body, headers=KEY)

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def stop(self, sig: signal.Signals) -> None:
        for node in self.nodes:
            node.stop(sig)


def make_nodes(
    root: Path,
    database: str,
    redis_url: str,
    *,
    count: int = 3,
    capacity: int | None = 4,
    api_key: str = API_KEY,
    env: dict[str, str] | None = None,
) -> Nodes:
    """`count` nodes (not started) under `root`, on one database and one Redis;
    `capacity=None` leaves each node's capacity at the server's default."""
    nodes = []
    for i in range(count):
        node = ServerProcess(root / f"node{i}")
        node.env = {
            "OPENREPLICA_API_KEY": api_key,
            "OPENREPLICA_DATABASE_URL": database,
            "OPENREPLICA_REDIS_URL": redis_url,
            "OPENREPLICA_NODE_URL": node.url,
            "OPENREPLICA_NODE_ID": node_id(node),
            **({} if capacity is None else {"OPENREPLICA_NODE_CAPACITY": str(capacity)}),
            "OPENREPLICA_NODE_HEARTBEAT": "0.3",
            "OPENREPLICA_NODE_TTL": "1.5",
            **(env or {}),
        }
        nodes.append(node)
    return Nodes(nodes, database)


@contextmanager
def running_nodes(
    tmp_path: Path,
    redis: RedisServer,
    postgres: PostgresServer,
    *,
    count: int = 3,
    capacity: int = 4,
    env: dict[str, str] | None = None,
) -> Iterator[Nodes]:
    """`count` nodes on one fresh database; each is SIGKILLed at the end."""
    database = postgres.create_database(f"cluster_{tmp_path.name[-20:].replace('-', '_')}")
    made = make_nodes(tmp_path, database, redis.url, count=count, capacity=capacity, env=env)
    try:
        made.start()
        yield made
    finally:
        made.stop(signal.SIGKILL)
