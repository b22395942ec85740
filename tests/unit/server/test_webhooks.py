"""Webhook deliveries: stored before they are tried, in order, retried with backoff on the
clock, resumed by a new sender, never stopped by an unexpected exception, signed both
ways (today's header and Standard Webhooks)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from eventually import eventually

from openreplica.runtime import VirtualClock
from openreplica.server.store import DeliveryStatus, Store
from openreplica.server.webhooks import SIGNATURE_HEADER, WebhookSender, standard_signature

URL = "http://127.0.0.1:1/hook"
Handle = Callable[[httpx.Request], Any]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """On SQLite and on a real PostgreSQL (tests/conftest.py)."""
    opened = await Store.open(database_url)
    yield opened
    await opened.aclose()


def _sender(store: Store, handle: Handle, clock: VirtualClock, **kw: Any) -> WebhookSender:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return WebhookSender(store, client, clock, **kw)


async def run_clock(clock: VirtualClock, done: Callable[[], bool], timeout: float = 10) -> None:
    """Move the virtual clock to each sleeper's deadline in turn until `done()`."""
    limit = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < limit, "the deliveries did not finish"
        deadline = clock.next_deadline
        if deadline is not None:
            await clock.advance(deadline - clock.now())
        else:
            await asyncio.sleep(0.01)  # a store query in flight


def standard_webhooks_valid(key: bytes, request: httpx.Request) -> bool:
    """An independent check of the Standard Webhooks signature (spec §"Signature scheme")."""
    wid = request.headers["webhook-id"]
    ts = request.headers["webhook-timestamp"]
    signed = wid.encode() + b"." + ts.encode() + b"." + request.content
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = [s.split(",", 1) for s in request.headers["webhook-signature"].split(" ")]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in versions)


async def test_deliveries_are_in_order_signed_and_shaped_as_the_spec(store: Store) -> None:
    clock = VirtualClock(start=1_764_000_000.0)
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sender = _sender(store, handle, clock, secret="s3cret")
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
    assert len({r.headers["webhook-id"] for r in received}) == 3
    for request in received:
        expected = "sha256=" + hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected)
        assert request.headers["webhook-timestamp"] == "1764000000"
        assert standard_webhooks_valid(b"s3cret", request)
        assert not standard_webhooks_valid(b"other", request)
    stored = await store.webhook_deliveries("c1")
    assert [d.status for d in stored] == [DeliveryStatus.DELIVERED] * 3
    assert [d.webhook_id for d in stored] == [r.headers["webhook-id"] for r in received]
    await sender.aclose()


def test_the_signature_reproduces_the_published_standard_webhooks_vector() -> None:
    # the test vector the Standard Webhooks reference libraries are checked against
    signature = standard_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_a_whsec_secret_signs_with_its_decoded_key(store: Store) -> None:
    key = bytes(range(32))
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    secret = "whsec_" + base64.b64encode(key).decode()
    sender = _sender(store, handle, VirtualClock(), secret=secret)
    sender.send("c1", URL, "system.shutdown", {})
    await sender.drain()
    (request,) = received
    assert standard_webhooks_valid(key, request)
    await sender.aclose()


async def test_a_failing_receiver_gets_them_on_retry_with_backoff_in_order_same_id(
    store: Store,
) -> None:
    clock = VirtualClock()
    attempts: list[tuple[float, str, str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)["event_type"]
        h = request.headers
        attempts.append((clock.now(), event, h["webhook-id"], h["webhook-timestamp"]))
        if len(attempts) == 1:
            raise httpx.ConnectError("refused")
        if len(attempts) == 2:
            return httpx.Response(503)
        return httpx.Response(200)

    sender = _sender(store, handle, clock, retry_delay=1.0)
    start = clock.now()
    sender.send("c1", URL, "system.replica_joined", {})
    sender.send("c1", URL, "system.shutdown", {})
    await eventually(lambda: len(attempts) == 1 and clock.next_deadline == start + 1.0)
    await clock.advance(1.0)  # first retry after 1 s
    await eventually(lambda: len(attempts) == 2 and clock.next_deadline == start + 3.0)
    await clock.advance(2.0)  # second retry after 2 s more, then the next delivery
    await sender.drain()
    assert [(round(t - start, 3), e) for t, e, _, _ in attempts] == [
        (0.0, "system.replica_joined"),
        (1.0, "system.replica_joined"),
        (3.0, "system.replica_joined"),
        (3.0, "system.shutdown"),
    ]
    ids = [wid for _, _, wid, _ in attempts]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert [int(ts) for _, _, _, ts in attempts] == [int(t) for t, _, _, _ in attempts]
    await sender.aclose()


async def test_a_delivery_is_given_up_after_max_attempts_and_the_next_one_goes(
    store: Store,
) -> None:
    clock = VirtualClock()
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)["event_type"]
        seen.append(event)
        assert SIGNATURE_HEADER not in request.headers
        assert "webhook-signature" not in request.headers
        assert request.headers["webhook-id"].startswith("msg_")
        return httpx.Response(500 if event == "a" else 200)

    sender = _sender(store, handle, clock, max_attempts=3, retry_delay=0.1)
    sender.send("c1", URL, "a", {})
    sender.send("c1", URL, "b", {})
    await run_clock(clock, lambda: seen[-1:] == ["b"])
    await sender.drain()
    assert seen == ["a", "a", "a", "b"]
    stored = await store.webhook_deliveries("c1")
    assert [(d.status, d.attempts) for d in stored] == [
        (DeliveryStatus.FAILED, 3),
        (DeliveryStatus.DELIVERED, 1),
    ]
    await sender.aclose()


async def test_an_unexpected_exception_costs_one_attempt_and_the_worker_goes_on(
    store: Store,
) -> None:
    clock = VirtualClock()
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((json.loads(request.content)["event_type"], request.headers["webhook-id"]))
        if len(seen) == 1:  # what httpx raised when a receiver closed during connect
            raise AttributeError("'NoneType' object has no attribute 'send'")
        return httpx.Response(200)

    sender = _sender(store, handle, clock, retry_delay=0.5)
    sender.send("c1", URL, "a", {})
    sender.send("c1", URL, "b", {})
    await run_clock(clock, lambda: len(seen) == 3)
    await sender.drain()
    assert [e for e, _ in seen] == ["a", "a", "b"]
    assert seen[0][1] == seen[1][1]
    assert [d.attempts for d in await store.webhook_deliveries("c1")] == [2, 1]
    await sender.aclose()


async def test_a_store_error_does_not_stop_the_worker(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock()
    seen: list[str] = []
    real = store.claim_webhook_delivery
    failures = [RuntimeError("database is locked")]

    async def flaky(conversation_id: str, node: str, now: float, until: float) -> Any:
        if failures:
            raise failures.pop()
        return await real(conversation_id, node, now, until)

    monkeypatch.setattr(store, "claim_webhook_delivery", flaky)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["event_type"])
        return httpx.Response(200)

    sender = _sender(store, handle, clock)
    sender.send("c1", URL, "a", {})
    await run_clock(clock, lambda: seen == ["a"])
    await sender.drain()
    assert not failures
    await sender.aclose()


async def test_pending_deliveries_survive_a_stop_and_a_new_sender_resumes_them(
    store: Store,
) -> None:
    clock = VirtualClock()
    first: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        first.append(request.headers["webhook-id"])
        return httpx.Response(502)

    sender = _sender(store, down, clock, retry_delay=60.0)
    sender.send("c1", URL, "system.shutdown", {})
    sender.send("c1", URL, "application.transcription_ready", {"transcript": []})
    sender.send("c2", URL, "system.shutdown", {})
    await eventually(lambda: len(first) == 2)  # one attempt each for c1 and c2
    closing = asyncio.create_task(sender.aclose(grace=1.0))
    await eventually(lambda: clock.next_deadline == clock.now() + 1.0)  # the grace
    await clock.advance(1.0)  # the 60 s retry does not fit in the grace
    await closing
    stored = await store.webhook_deliveries("c1")
    assert [(d.status, d.attempts) for d in stored] == [
        (DeliveryStatus.PENDING, 1),
        (DeliveryStatus.PENDING, 0),
    ]

    received: list[tuple[str, str, str]] = []

    def up(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        received.append(
            (body["conversation_id"], body["event_type"], request.headers["webhook-id"])
        )
        return httpx.Response(200)

    again = _sender(store, up, clock, retry_delay=60.0)
    assert await again.resume() == 2
    await run_clock(clock, lambda: len(received) == 3)
    await again.drain()
    c1 = [(e, wid) for cid, e, wid in received if cid == "c1"]
    assert [e for e, _ in c1] == ["system.shutdown", "application.transcription_ready"]
    assert c1[0][1] == stored[0].webhook_id and c1[1][1] == stored[1].webhook_id
    assert {wid for cid, _, wid in received if cid == "c2"} <= set(first)
    assert {d.status for d in await store.webhook_deliveries("c1")} == {DeliveryStatus.DELIVERED}
    await again.aclose()


async def test_one_slow_conversation_does_not_hold_up_another(store: Store) -> None:
    clock = VirtualClock()
    gate = asyncio.Event()
    seen: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        cid = json.loads(request.content)["conversation_id"]
        if cid == "slow":
            await gate.wait()
        seen.append(cid)
        return httpx.Response(200)

    sender = _sender(store, handle, clock)
    sender.send("slow", URL, "x", {})
    sender.send("fast", URL, "x", {})
    await eventually(lambda: seen == ["fast"])
    gate.set()
    await sender.drain()
    assert seen == ["fast", "slow"]
    await sender.aclose()
