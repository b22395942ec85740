"""`openreplica serve --workers 2` on a real Redis and PostgreSQL: two node processes
behind one port (SO_REUSEPORT). Conversations spread over both workers, a WebSocket to
the shared port reaches a conversation whichever worker accepted it (directly, or
relayed), a crashed worker is replaced by a new node, SIGTERM drains every worker (with
nobody left to hand them to, their conversations end), one worker given SIGTERM hands its
conversations to the other, and a worker that cannot start stops the supervisor with the
reason."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets
from db_servers import PostgresServer, RedisServer
from eventually import eventually, eventually_sync
from server_process import ServerProcess, free_port

from openreplica.client import ReplicaClient

from ..server.test_ws import is_type, recv_until, say

KEY = {"x-api-key": "k-workers"}
NODES = ("box-w0", "box-w1")


def _serving(server: ServerProcess, times: int = 1) -> bool:
    return server.output().count("2 workers serving") >= times


def _worker_pids(server: ServerProcess) -> dict[str, int]:
    """node id -> pid, from the supervisor's lines (the latest incarnation wins)."""
    found = re.findall(r"worker \d+: node (\S+), pid (\d+)", server.output())
    return {node: int(pid) for node, pid in found}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def workers(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> Iterator[ServerProcess]:
    database = postgres.create_database(f"workers_{tmp_path.name[-20:].replace('-', '_')}")
    server = ServerProcess(tmp_path / "data", ready_timeout=60)
    server.env = {
        "OPENREPLICA_API_KEY": KEY["x-api-key"],
        "OPENREPLICA_DATABASE_URL": database,
        "OPENREPLICA_REDIS_URL": redis_server.url,
        "OPENREPLICA_WORKERS": "2",
        "OPENREPLICA_NODE_ID": "box",
        "OPENREPLICA_NODE_HEARTBEAT": "0.3",
        "OPENREPLICA_NODE_TTL": "1.5",
    }
    try:
        server.start()
        eventually_sync(
            lambda: _serving(server), timeout=60, message=lambda: "both workers: " + server.output()
        )
        yield server
    finally:
        pids = _worker_pids(server)
        server.stop(signal.SIGKILL)
        # the workers die with the supervisor (PR_SET_PDEATHSIG)
        eventually_sync(
            lambda: not any(_alive(pid) for pid in pids.values()),
            timeout=10,
            message="the workers died with the supervisor",
        )


def _pipes(redis_server: RedisServer) -> int:
    with redis.Redis.from_url(redis_server.url) as r:
        return len(r.keys("or:pipe:*:to-owner"))


async def _round_trip(server: ServerProcess, cid: str, text: str) -> list[dict[str, Any]]:
    async with websockets.connect(server.ws_url(cid), additional_headers=KEY) as ws:
        return await say(ws, text)


async def test_conversations_spread_over_both_workers_and_any_socket_reaches_them(
    workers: ServerProcess, redis_server: RedisServer
) -> None:
    created = [workers.post("/v2/conversations", {}, headers=KEY) for _ in range(4)]
    assert collections.Counter(c["node_id"] for c in created) == {NODES[0]: 2, NODES[1]: 2}

    for conversation in created[:2]:  # one owned by each worker
        cid = conversation["conversation_id"]
        direct = relayed = 0
        for attempt in range(40):  # the kernel picks the worker: try until both happened
            before = _pipes(redis_server)
            said = await _round_trip(workers, cid, f"hello {attempt}")
            assert said[-1]["conversation_id"] == cid
            if _pipes(redis_server) > before:
                relayed += 1
            else:
                direct += 1
            if direct and relayed:
                break
        assert direct and relayed, (direct, relayed)
        # every event came from the owner's sequencer: gapless
        got = workers.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
        assert [e["seq"] for e in got["events"]] == list(range(1, len(got["events"]) + 1))
        assert got["node_id"] == conversation["node_id"]


async def test_a_crashed_worker_is_replaced_by_a_new_node(
    workers: ServerProcess, redis_server: RedisServer
) -> None:
    first = workers.post("/v2/conversations", {}, headers=KEY)
    victim = first["node_id"]
    os.kill(_worker_pids(workers)[victim], signal.SIGKILL)

    await eventually(lambda: _serving(workers, 2), timeout=60, message="the worker restarted")
    assert f"restarting it as node {victim}.1" in workers.output()

    def moved() -> dict[str, Any] | None:
        got = workers.get(f"/v2/conversations/{first['conversation_id']}", headers=KEY)
        return got if got["node_id"] != victim else None

    # the old incarnation is a failed node to the others: one of them takes it over
    record = await eventually(moved, timeout=20, message="the crashed worker's conversation")
    assert record["status"] == "active"
    placed = {workers.post("/v2/conversations", {}, headers=KEY)["node_id"] for _ in range(4)}
    assert placed == {n if n != victim else f"{victim}.1" for n in NODES}
    cid = workers.post("/v2/conversations", {}, headers=KEY)["conversation_id"]
    said = await _round_trip(workers, cid, "after the crash")
    assert said[-1]["properties"]["speech"] == "after the crash"


async def test_sigterm_drains_every_worker_and_exits_cleanly(
    workers: ServerProcess, redis_server: RedisServer
) -> None:
    assert workers.process is not None
    pids = _worker_pids(workers)
    assert set(pids) == set(NODES)
    conversations = [
        workers.post("/v2/conversations", {}, headers=KEY)["conversation_id"] for _ in range(2)
    ]
    sockets = [
        await websockets.connect(workers.ws_url(cid), additional_headers=KEY)
        for cid in conversations
    ]
    for ws in sockets:
        await recv_until(ws, is_type("system.replica_joined"))

    workers.process.send_signal(signal.SIGTERM)
    for ws in sockets:
        shutdown = await recv_until(ws, is_type("system.shutdown"))
        assert shutdown[-1]["properties"]["shutdown_reason"] == "server_shutdown"
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4410, (ws.close_code, ws.close_reason)
    assert workers.process.wait(timeout=30) == 0, workers.output()[-3000:]
    assert not any(_alive(pid) for pid in pids.values())
    assert "stopping 2 workers" in workers.output()
    with redis.Redis.from_url(redis_server.url) as r:  # both left the registry
        assert r.keys("or:node:*") == []


async def test_one_worker_given_sigterm_hands_its_conversations_to_the_other(
    workers: ServerProcess,
) -> None:
    created = workers.post("/v2/conversations", {}, headers=KEY)
    cid, victim = created["conversation_id"], created["node_id"]
    survivor = next(n for n in NODES if n != victim)
    async with ReplicaClient(workers.url, api_key=KEY["x-api-key"]) as client:
        conv = await client.connect(cid, last_seq=0)
        said = await conv.say("before the drain")
        assert said.heard == "before the drain"
        os.kill(_worker_pids(workers)[victim], signal.SIGTERM)

        def moved() -> dict[str, Any] | None:
            got = workers.get(f"/v2/conversations/{cid}", headers=KEY)
            return got if got["node_id"] != victim else None

        record = await eventually(moved, timeout=20, message="handed to the other worker")
        assert record["status"] == "active" and record["node_id"] == survivor
        # the supervisor starts the drained worker again, as a new node; once it serves,
        # the client is past the move (an interaction sent in the instant between the
        # halt and its relay or its reconnection reaching the new owner is lost)
        await eventually(lambda: _serving(workers, 2), timeout=60, message="restarted")
        assert f"restarting it as node {victim}.1" in workers.output()
        again = await asyncio.wait_for(conv.say("after the drain"), 30)
        assert again.heard == "after the drain" and again.done
        seqs = [e.seq for e in conv.view.events if e.seq is not None]
        types = {e.event_type for e in conv.view.events}
        await conv.close()
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert "system.shutdown" not in types
    assert f"{cid}: node draining; handed over to {survivor}" in workers.output()


def test_a_worker_that_cannot_start_stops_the_supervisor_with_the_reason(
    tmp_path: Path,
) -> None:
    dead = free_port()  # nothing listens there: the workers cannot open the database
    env = {
        **os.environ,
        "OPENREPLICA_DATA_DIR": str(tmp_path / "data"),
        "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "1",
        "OPENREPLICA_WORKERS": "2",
        "OPENREPLICA_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        "OPENREPLICA_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{dead}/none",
    }
    done = subprocess.run(
        [sys.executable, "-m", "openreplica.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "before it was ready (its log above says why); stopping" in done.stdout
    assert "Connect call failed" in output or "refused" in output  # the why
