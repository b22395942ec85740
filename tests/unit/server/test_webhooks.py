"""Webhook deliveries: order, retries with backoff on the clock, signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx

from openreplica.runtime import VirtualClock, settle
from openreplica.server.webhooks import SIGNATURE_HEADER, WebhookSender

URL = "http://127.0.0.1:1/hook"


def _sender(handler: httpx.MockTransport, clock: VirtualClock, **kw: object) -> WebhookSender:
    client = httpx.AsyncClient(transport=handler)
    return WebhookSender(client, clock, **kw)  # type: ignore[arg-type]


async def test_deliveries_are_in_order_signed_and_shaped_as_the_spec() -> None:
    clock = VirtualClock(start=1_764_000_000.0)
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sender = _sender(httpx.MockTransport(handle), clock, secret="s3cret")
    sender.send("c1", URL, "system.replica_joined", {"replica_id": "r-aria"})
    sender.send("c1", URL, "system.shutdown", {"shutdown_reason": "x"})
    sender.send("c1", URL, "application.transcription_ready", {"transcript": []})
    await sender.drain()
    bodies = [json.loads(r.content) for r in received]
    assert [b["event_type"] for b in bodies] == [
        "system.replica_joined",
        "system.shutdown",
        "application.transcription_ready",
    ]
    assert bodies[0] == {
        "message_type": "system",
        "event_type": "system.replica_joined",
        "conversation_id": "c1",
        "webhook_url": URL,
        "timestamp": "2025-11-24T16:00:00.000Z",
        "properties": {"replica_id": "r-aria"},
    }
    assert bodies[2]["message_type"] == "application"
    for request in received:
        expected = "sha256=" + hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected)
    await sender.aclose()


async def test_a_failing_receiver_gets_them_on_retry_with_backoff_and_in_order() -> None:
    clock = VirtualClock()
    attempts: list[tuple[float, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)["event_type"]
        attempts.append((clock.now(), event))
        if len(attempts) == 1:
            raise httpx.ConnectError("refused")
        if len(attempts) == 2:
            return httpx.Response(503)
        return httpx.Response(200)

    sender = _sender(httpx.MockTransport(handle), clock, retry_delay=1.0)
    start = clock.now()
    sender.send("c1", URL, "system.replica_joined", {})
    sender.send("c1", URL, "system.shutdown", {})
    await settle()
    await clock.advance(0.5)
    assert len(attempts) == 1
    await clock.advance(1.0)  # first retry after 1 s
    assert len(attempts) == 2
    await clock.advance(2.0)  # second retry after 2 s more, then the next delivery
    await sender.drain()
    assert [(round(t - start, 3), e) for t, e in attempts] == [
        (0.0, "system.replica_joined"),
        (1.0, "system.replica_joined"),
        (3.0, "system.replica_joined"),
        (3.0, "system.shutdown"),
    ]
    await sender.aclose()


async def test_a_delivery_is_given_up_after_max_attempts_and_the_next_one_goes() -> None:
    clock = VirtualClock()
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)["event_type"]
        seen.append(event)
        assert SIGNATURE_HEADER not in request.headers
        return httpx.Response(500 if event == "a" else 200)

    sender = _sender(httpx.MockTransport(handle), clock, max_attempts=3, retry_delay=0.1)
    sender.send("c1", URL, "a", {})
    sender.send("c1", URL, "b", {})
    for _ in range(5):
        await clock.advance(1.0)
    await sender.drain()
    assert seen == ["a", "a", "a", "b"]
    await sender.aclose()


async def test_one_slow_conversation_does_not_hold_up_another() -> None:
    clock = VirtualClock()
    gate = asyncio.Event()
    seen: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        cid = json.loads(request.content)["conversation_id"]
        if cid == "slow":
            await gate.wait()
        seen.append(cid)
        return httpx.Response(200)

    sender = _sender(httpx.MockTransport(handle), clock)
    sender.send("slow", URL, "x", {})
    sender.send("fast", URL, "x", {})
    await settle()
    assert seen == ["fast"]
    gate.set()
    await sender.drain()
    assert seen == ["fast", "slow"]
    await sender.aclose()
