"""Webhook deliveries as a durable queue across nodes: a node makes a conversation's
deliveries only under a lease on the oldest pending one (compare-and-set on
`claimed_by`/`claimed_until`), renews it while it waits and sends, releases it with the
outcome; a dead node's deliveries are taken over once its lease runs out. At least once,
in order, one `webhook-id` per delivery on every attempt from every node, and never two
nodes sending one delivery at once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cluster_nodes import KEY, Nodes, node_id, running_nodes
from db_servers import PostgresServer, RedisServer
from eventually import eventually
from server_process import ServerProcess
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from webhook_receiver import Received, WebhookReceiver

from openreplica.runtime import VirtualClock
from openreplica.server.store import DeliveryStatus, Store, WebhookDeliveryRecord
from openreplica.server.webhooks import WebhookSender

from ..server.test_ws import echo, is_type, recv_until

SIGNING_KEY = bytes(range(1, 33))
SECRET = "whsec_" + base64.b64encode(SIGNING_KEY).decode()
LEASE = 2.0
EVENTS = ["system.replica_joined", "system.shutdown", "application.transcription_ready"]


# ---------------------------------------------------------------------- the store's leases


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """On SQLite and on a real PostgreSQL (tests/conftest.py)."""
    opened = await Store.open(database_url)
    yield opened
    await opened.aclose()


def _deliveries(conversation_id: str, count: int) -> list[WebhookDeliveryRecord]:
    return [
        WebhookDeliveryRecord(
            f"msg_{conversation_id}_{i}", conversation_id, "http://x/h", b"{}", 0, 1.0
        )
        for i in range(count)
    ]


async def test_a_lease_keeps_the_head_of_a_conversation_to_one_node_until_it_runs_out(
    store: Store,
) -> None:
    await store.add_webhook_deliveries(_deliveries("c1", 2) + _deliveries("c2", 1))
    a = await store.claim_webhook_delivery("c1", "node-a", 100.0, 110.0)
    assert a.delivery is not None and a.delivery.webhook_id == "msg_c1_0" and not a.held
    # node b can neither take it nor the one after it (order) while a's lease is live
    assert (await store.claim_webhook_delivery("c1", "node-b", 105.0, 115.0)).held
    assert await store.conversations_with_claimable_webhooks("node-b", 105.0) == ["c2"]
    assert sorted(await store.conversations_with_claimable_webhooks("node-a", 105.0)) == [
        "c1",
        "c2",
    ]
    assert await store.renew_webhook_claim("msg_c1_0", "node-a", 120.0)
    assert (await store.claim_webhook_delivery("c1", "node-b", 115.0, 125.0)).held

    # node a stops renewing (it died): after its lease node b takes the same delivery
    b = await store.claim_webhook_delivery("c1", "node-b", 120.5, 130.0)
    assert b.delivery is not None and b.delivery.webhook_id == "msg_c1_0"
    assert not await store.renew_webhook_claim("msg_c1_0", "node-a", 140.0)
    # a's late outcome is not recorded; b's is, and releases it
    assert not await store.record_webhook_attempt(
        "msg_c1_0", 1, DeliveryStatus.DELIVERED, 121.0, claimed_by="node-a"
    )
    assert await store.record_webhook_attempt(
        "msg_c1_0", 2, DeliveryStatus.DELIVERED, 122.0, claimed_by="node-b"
    )
    nxt = await store.claim_webhook_delivery("c1", "node-a", 122.0, 132.0)
    assert nxt.delivery is not None and nxt.delivery.webhook_id == "msg_c1_1"
    # a retry keeps the lease; a clean stop releases it for anyone
    assert await store.record_webhook_attempt(
        "msg_c1_1", 1, DeliveryStatus.PENDING, 200.0, claimed_by="node-a"
    )
    assert (await store.claim_webhook_delivery("c1", "node-b", 123.0, 133.0)).held
    assert await store.release_webhook_claims("node-a") == 1
    taken = await store.claim_webhook_delivery("c1", "node-b", 123.0, 133.0)
    assert taken.delivery is not None and taken.delivery.attempts == 1
    delivered = [d.status for d in await store.webhook_deliveries("c1")]
    assert delivered == [DeliveryStatus.DELIVERED, DeliveryStatus.PENDING]


async def test_of_many_nodes_claiming_at_once_exactly_one_gets_the_lease(
    database_url: str,
) -> None:
    stores = [await Store.open(database_url) for _ in range(4)]
    try:
        await stores[0].add_webhook_deliveries(_deliveries("c1", 1))
        for round_ in range(5):  # each round: a fresh lease race at a later time
            now = 100.0 + 20 * round_
            claims = await asyncio.gather(
                *(
                    s.claim_webhook_delivery("c1", f"node-{i}-{j}", now, now + 10)
                    for i, s in enumerate(stores)
                    for j in range(3)
                )
            )
            assert sum(c.delivery is not None for c in claims) == 1
            assert sum(c.held for c in claims) == len(claims) - 1
    finally:
        for s in stores:
            await s.aclose()


async def test_a_sender_whose_lease_is_taken_cancels_its_post_and_records_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock()
    posting = asyncio.Event()
    cancelled: list[bool] = []

    async def receiver_hangs(request: httpx.Request) -> httpx.Response:
        posting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        raise AssertionError("unreachable")

    http = httpx.AsyncClient(transport=httpx.MockTransport(receiver_hangs))
    sender = WebhookSender(store, http, clock, node="node-a", lease=30.0)
    renew = store.renew_webhook_claim

    async def taken_meanwhile(webhook_id: str, node: str, until: float) -> bool:
        # node a was cut off from the database past its lease; node b took the delivery
        late = clock.now() + 60
        taken = await store.claim_webhook_delivery("c1", "node-b", late, late + 30)
        assert taken.delivery is not None
        return await renew(webhook_id, node, until)

    monkeypatch.setattr(store, "renew_webhook_claim", taken_meanwhile)
    sender.send("c1", "http://receiver/hook", "system.shutdown", {})
    await eventually(posting.is_set, timeout=5, message="the POST in flight")
    await clock.advance(10.0)  # the first renewal: refused
    # the worker gives the delivery up to node b (bounded in real time: a POST left
    # hanging would never end)
    assert await asyncio.wait_for(sender.drain(), 10)
    assert cancelled == [True]
    (delivery,) = await store.webhook_deliveries("c1")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert (await store.claim_webhook_delivery("c1", "node-a", clock.now(), 0.0)).held
    await sender.aclose()
    await http.aclose()


# ---------------------------------------------------------------------- three nodes


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer) -> Iterator[Nodes]:
    env = {
        "OPENREPLICA_WEBHOOK_SECRET": SECRET,
        "OPENREPLICA_WEBHOOK_RETRY_DELAY": "0.2",
        # a hanging receiver outlasts the lease: only renewals keep the other nodes off
        "OPENREPLICA_WEBHOOK_TIMEOUT": str(2 * LEASE),
        "OPENREPLICA_WEBHOOK_MAX_ATTEMPTS": "1000",
        "OPENREPLICA_WEBHOOK_LEASE": str(LEASE),
    }
    with running_nodes(tmp_path, redis_server, postgres, env=env) as started:
        yield started


def signed(request: Received) -> bool:
    """Standard Webhooks verification, independent of the server."""
    content = b".".join(
        [request.headers["webhook-id"].encode(), request.headers["webhook-timestamp"].encode()]
    )
    mac = hmac.new(SIGNING_KEY, content + b"." + request.body, hashlib.sha256).digest()
    return request.headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


def body(request: Received) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request.body)
    return parsed


def overlapping(requests: list[Received]) -> list[tuple[Received, Received]]:
    """Pairs of requests that were open at the same time."""
    spans = sorted(requests, key=lambda r: r.started)
    pairs = []
    for i, first in enumerate(spans):
        end = first.ended if first.ended is not None else float("inf")
        pairs += [(first, later) for later in spans[i + 1 :] if later.started < end]
    return pairs


async def talk_and_end(node: ServerProcess, cid: str) -> None:
    async with websockets.connect(node.ws_url(cid), additional_headers=KEY) as ws:
        await ws.send(echo("for the webhooks"))
        await recv_until(ws, is_type("conversation.stopped_speaking"))
    async with httpx.AsyncClient() as http:
        ended = await http.post(f"{node.url}/v2/conversations/{cid}/end", headers=KEY)
    assert ended.status_code == 200


async def leases(database: str, conversation_id: str) -> list[tuple[str, str | None, str]]:
    """(webhook_id, claimed_by, status) of a conversation's deliveries, oldest first."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT webhook_id, claimed_by, status FROM webhook_deliveries "
                    "WHERE conversation_id = :cid ORDER BY id"
                ),
                {"cid": conversation_id},
            )
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await engine.dispose()


async def test_a_killed_node_s_webhooks_are_made_by_another_at_least_once_never_two_at_once(
    nodes: Nodes, receiver: WebhookReceiver
) -> None:
    receiver.default = "fail"
    receiver.plan = ["hang", "hang"]  # the first two attempts outlast the lease
    hook = receiver.url + "/hook"
    created = [
        await asyncio.to_thread(nodes.create, node, callback_url=hook) for node in nodes.nodes
    ]
    victim_cid, victim = created[0]["conversation_id"], created[0]["node_id"]
    assert {c["node_id"] for c in created} == {node_id(n) for n in nodes.nodes}
    for conversation in created:
        await talk_and_end(nodes.by_id(conversation["node_id"]), conversation["conversation_id"])

    def tried(cid: str) -> list[Received]:
        return [r for r in receiver.requests if body(r)["conversation_id"] == cid]

    # the victim retries its first delivery: it holds the lease on it
    await eventually(
        lambda: len(tried(victim_cid)) >= 3 and not receiver.plan,
        timeout=30,
        message="the victim node retrying its conversation's first webhook",
    )
    held = await leases(nodes.database, victim_cid)
    assert len(held) == len(EVENTS)
    assert held[0][1:] == (victim, DeliveryStatus.PENDING)
    retried = {r.webhook_id for r in tried(victim_cid)}
    assert retried == {held[0][0]}  # in order: the second waits for the first

    await asyncio.to_thread(nodes.by_id(victim).stop, signal.SIGKILL)
    killed_at = time.monotonic()
    receiver.default = "ok"

    def every_delivery_made() -> bool:
        made = {(body(r)["conversation_id"], body(r)["event_type"]) for r in receiver.delivered}
        return made >= {(c["conversation_id"], e) for c in created for e in EVENTS}

    await eventually(every_delivery_made, timeout=60, message="every webhook delivered")
    after = await leases(nodes.database, victim_cid)
    assert [(w, s) for w, _, s in after] == [(w, DeliveryStatus.DELIVERED) for w, _, _ in held]
    assert all(by is None for _, by, _ in after)  # released with the outcome

    for conversation in created:
        requests = tried(conversation["conversation_id"])
        # one webhook-id per delivery on every attempt, whichever node made it: the
        # duplicates a receiver sees carry the same id and the same signed body
        by_id: dict[str, list[Received]] = {}
        for request in requests:
            by_id.setdefault(request.webhook_id, []).append(request)
        assert [body(group[0])["event_type"] for group in by_id.values()] == EVENTS
        assert all(len({r.body for r in group}) == 1 for group in by_id.values())
        assert all(signed(r) for r in requests)
        # one at a time per conversation: never the same delivery from two nodes at once,
        # and a delivery's successor only after it (order across the takeover too)
        assert overlapping(requests) == []
        groups = list(by_id.values())
        for made, following in itertools.pairwise(groups):
            answered = max(r.ended or 0.0 for r in made if r.behaviour == "ok")
            assert answered <= min(r.started for r in following)
    # the victim's first delivery: tried by the victim, then made by another node
    victim_first = [r for r in tried(victim_cid) if r.webhook_id == held[0][0]]
    assert any(r.started < killed_at for r in victim_first)
    assert any(r.started > killed_at and r.behaviour == "ok" for r in victim_first)
