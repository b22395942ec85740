"""The call page in a real Chromium, opened on a cluster node that does not host the
conversation: its WebRTC offer is forwarded to the owner, and the call works as on one
server (joins, shows the replica's video, answers what is typed).

Needs Debian's Chromium, Redis and PostgreSQL (see tests/e2e/test_call_page.py and
tests/support/db_servers.py); run in a loopback-only network namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import browser_context, join_call_page
from cluster_nodes import Nodes, running_nodes
from db_servers import PostgresServer, RedisServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer) -> Iterator[Nodes]:
    # The server's own lease (the suite's 1.5 s is for the failover tests): here a busy
    # machine starting Chromium once made the owner miss a heartbeat and fence itself
    # off mid-join, which is what the takeover tests are for, not this one.
    lease = {"OPENREPLICA_NODE_HEARTBEAT": "0.5", "OPENREPLICA_NODE_TTL": "3.0"}
    with running_nodes(tmp_path, redis_server, postgres, count=2, env=lease) as started:
        yield started


async def test_the_call_page_on_another_node_reaches_the_owner(
    nodes: Nodes, tmp_path: Path
) -> None:
    created = nodes.create(nodes.nodes[0], require_auth=True)
    cid, owner = created["conversation_id"], created["node_id"]
    (relay,) = nodes.others(owner)
    # the conversation URL as a balancer in front of both nodes could route it: to `relay`
    url = f"{relay.url}/c/{cid}?t={created['meeting_token']}"

    async with browser_context(tmp_path, permissions=["microphone", "camera"]) as browser:
        page = await join_call_page(browser, url, timeout_ms=30_000)
        await page.wait_for_function(
            "() => document.getElementById('replica-video').videoWidth > 0", timeout=15_000
        )
        await page.fill("#message", "hello from another node")
        await page.press("#message", "Enter")
        await page.wait_for_selector(
            ".msg.replica >> text=You said: hello from another node", timeout=20_000
        )
        turns = await page.evaluate("() => window.openreplicaCall.getTurns()")
        assert turns[-1]["user"] == "hello from another node"
