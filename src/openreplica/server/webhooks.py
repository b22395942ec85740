"""Webhook deliveries (SPEC §6): durable, at least once, in order per conversation, signed.

`send()` turns an event into a delivery and stores it (table `webhook_deliveries`) before
any attempt, so a delivery survives a crash or a stop: the next start `resume()`s every
pending one. Each conversation has at most one worker task, which makes its pending
deliveries one at a time, oldest first, so they arrive in the order they were made while a
slow receiver of one conversation never delays another's.

An attempt fails on a connection error, a timeout, a non-2xx answer or any unexpected
exception from the HTTP stack (logged; the worker carries on). A failed attempt is stored
(`attempts`, `next_attempt_at`) and retried after `retry_delay`, doubling each time, up to
`max_attempts`; then the delivery is marked `failed` (and logged) and the next one goes.
Waits are on the injected clock. A receiver may get a delivery more than once (it timed
out, or the server stopped between the POST and storing its result): every attempt of one
delivery carries the same `webhook-id`, so the receiver can drop duplicates.

Across the nodes of a cluster (or one process), the table is the queue: a worker makes a
conversation's deliveries only while it holds a lease on the oldest pending one
(`claimed_by`/`claimed_until`, taken with one compare-and-set UPDATE,
`Store.claim_webhook_delivery`). It renews the lease every third of `lease` while it waits
for the next attempt and while the POST is in flight; if a renewal is refused, or fails
until the lease is nearly out, the POST is cancelled and nothing is recorded, so no two
nodes send a delivery at once while a lease is live (given clocks that agree to well
within `lease`). A delivery that is made or given up is released with its outcome. Every
`lease / 2` seconds each node looks for conversations whose oldest pending delivery has no
live lease (its node died, or stopped) and takes them over: at least once, in order, the
same `webhook-id` on every attempt from every node. A clean stop releases its leases.

Headers (Standard Webhooks, https://www.standardwebhooks.com): `webhook-id`,
`webhook-timestamp` (Unix seconds of this attempt) and, with a secret, `webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. The key is the secret's bytes, or,
for a secret in the spec's `whsec_<base64>` form, the decoded bytes. Beside them, with a
secret, `X-OpenReplica-Signature: sha256=<hex HMAC-SHA256 of the body>` as before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from openreplica.runtime import Clock
from openreplica.server.store import DeliveryStatus, Store, WebhookDeliveryRecord

log = logging.getLogger(__name__)

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookSender",
    "new_webhook_id",
    "sign",
    "standard_signature",
    "webhook_body",
]

SIGNATURE_HEADER = "X-OpenReplica-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _standard_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            pass  # not base64 after all: use it as it is
    return secret.encode()


def standard_signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of the Standard Webhooks specification."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def iso_utc(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def webhook_body(
    event_type: str, conversation_id: str, url: str, now: float, properties: dict[str, Any]
) -> bytes:
    message_type = "system" if event_type.startswith("system.") else "application"
    return json.dumps(
        {
            "message_type": message_type,
            "event_type": event_type,
            "conversation_id": conversation_id,
            "webhook_url": url,
            "timestamp": iso_utc(now),
            "properties": properties,
        },
        separators=(",", ":"),
    ).encode()


@dataclass
class _Worker:
    task: asyncio.Task[None] | None = None
    #: bumped when a new delivery of the conversation is stored while the worker runs
    wakes: int = 0


class WebhookSender:
    def __init__(
        self,
        store: Store,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        secret: str | None = None,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        new_id: Callable[[], str] = new_webhook_id,
        observe: Callable[[str], None] = lambda _: None,
        node: str = "local",
        lease: float = 30.0,
    ) -> None:
        self._store = store
        #: the name this sender's leases carry (the cluster node id)
        self._node = node
        self._lease = lease
        self._sweeper: asyncio.Task[None] | None = None
        self._client = client
        #: told `delivered`, `failed` (one attempt) or `given_up` (server/metrics.py)
        self._observe = observe
        self._clock = clock
        self._secret = secret
        self._max_attempts = max(1, max_attempts)
        self._retry_delay = retry_delay
        self._new_id = new_id
        self._unsaved: list[WebhookDeliveryRecord] = []
        self._saver: asyncio.Task[None] | None = None
        self._workers: dict[str, _Worker] = {}
        self._closing = False

    # ------------------------------------------------------------------ API

    def send(
        self, conversation_id: str, url: str, event_type: str, properties: dict[str, Any]
    ) -> None:
        """Make one delivery, after every earlier one of this conversation. It is stored
        at once (in the order of the calls), then attempted."""
        now = self._clock.now()
        body = webhook_body(event_type, conversation_id, url, now, properties)
        self._unsaved.append(
            WebhookDeliveryRecord(self._new_id(), conversation_id, url, body, 0, now)
        )
        if self._saver is None or self._saver.done():
            self._saver = asyncio.create_task(self._save(), name="webhooks-save")

    async def resume(self) -> int:
        """Start the workers of every conversation with stored pending deliveries no
        other node holds (the ones a previous process, or a dead node, left); returns
        how many conversations."""
        now = self._clock.now()
        ids = await self._store.conversations_with_claimable_webhooks(self._node, now)
        for conversation_id in ids:
            self._wake(conversation_id)
        return len(ids)

    def start(self) -> None:
        """Keep taking over pending deliveries left without a live lease (a node died):
        `resume()` every `lease / 2` seconds."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="webhooks-sweep")

    async def _sweep(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self._lease / 2)
            try:
                taken = await self.resume()
            except Exception as exc:  # the store is away: try again at the next sweep
                log.warning("looking for webhooks to take over failed: %s", exc)
                continue
            if taken:
                log.info("webhooks of %d conversations to make here", taken)

    async def flush(self) -> None:
        """Wait until every delivery sent so far is stored."""
        while self._saver is not None and not self._saver.done():
            await asyncio.shield(self._saver)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every delivery is made or given up, at most `timeout` seconds on
        the clock; True when none is left."""
        deadline = None if timeout is None else self._clock.now() + timeout
        while self._saver is not None or self._workers:
            if self._saver is not None and self._saver.done():
                self._saver = None
                continue
            if deadline is not None and self._clock.now() >= deadline:
                return False
            tasks = [w.task for w in self._workers.values() if w.task is not None]
            if self._saver is not None:
                tasks.append(self._saver)
            await self._first_of(tasks, deadline)
        return True

    async def aclose(self, grace: float = 5.0) -> None:
        """Store every delivery sent so far (one last try if the store fails), give
        pending deliveries `grace` seconds, then stop: what is still pending stays stored
        for the next start."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.flush()
        if not await self.drain(grace):
            log.warning(
                "webhooks of %d conversations still pending; they are made at the next start",
                len(self._workers),
            )
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        try:  # what is left goes to another node at once, not when the leases run out
            await self._store.release_webhook_claims(self._node)
        except Exception as exc:
            log.warning("releasing webhook leases failed (%s): they run out by themselves", exc)

    # ------------------------------------------------------------------ storing

    async def _save(self) -> None:
        while self._unsaved:
            batch, self._unsaved = self._unsaved, []
            try:
                await self._store.add_webhook_deliveries(batch)
            except Exception:
                if self._closing:
                    log.exception("storing %d webhook deliveries failed: lost", len(batch))
                    return
                log.exception("storing %d webhook deliveries failed; retrying", len(batch))
                self._unsaved = batch + self._unsaved
                await self._clock.sleep_until(self._clock.now() + self._retry_delay)
                continue
            for conversation_id in dict.fromkeys(d.conversation_id for d in batch):
                self._wake(conversation_id)

    # ------------------------------------------------------------------ delivering

    def _wake(self, conversation_id: str) -> None:
        worker = self._workers.get(conversation_id)
        if worker is not None:
            worker.wakes += 1
            return
        worker = self._workers[conversation_id] = _Worker()
        worker.task = asyncio.create_task(
            self._work(conversation_id, worker), name=f"webhooks-{conversation_id}"
        )

    async def _work(self, conversation_id: str, worker: _Worker) -> None:
        try:
            while True:
                wakes = worker.wakes
                try:
                    now = self._clock.now()
                    claim = await self._store.claim_webhook_delivery(
                        conversation_id, self._node, now, now + self._lease
                    )
                    if claim.held:
                        return  # another node makes them (the sweep finds any it leaves)
                    if claim.delivery is None:
                        if worker.wakes == wakes:
                            return  # nothing stored since the query: done
                        continue
                    await self._holding(claim.delivery, now + self._lease)
                except Exception:  # the store failed: never lose the worker
                    log.exception("%s: webhook worker error; retrying", conversation_id)
                    await self._clock.sleep_until(self._clock.now() + self._retry_delay)
        finally:
            if self._workers.get(conversation_id) is worker:
                del self._workers[conversation_id]

    async def _holding(self, delivery: WebhookDeliveryRecord, until: float) -> None:
        """Wait for the delivery's next attempt and make it, renewing the lease all the
        while; stop (cancelling the POST) as soon as the lease may be lost."""
        lost = asyncio.Event()
        renewer = asyncio.create_task(self._renew(delivery.webhook_id, until, lost))
        lease_lost = asyncio.create_task(lost.wait())

        async def wait_and_attempt() -> None:
            await self._clock.sleep_until(delivery.next_attempt_at)
            await self._attempt(delivery)

        work = asyncio.create_task(wait_and_attempt())
        try:
            await asyncio.wait({work, lease_lost}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                log.warning(
                    "%s: lost the lease on webhook %s; another node makes it",
                    delivery.conversation_id,
                    delivery.webhook_id,
                )
        finally:
            for task in (work, renewer, lease_lost):
                task.cancel()
            results = await asyncio.gather(work, renewer, lease_lost, return_exceptions=True)
        if isinstance(results[0], Exception):
            raise results[0]

    async def _renew(self, webhook_id: str, until: float, lost: asyncio.Event) -> None:
        """Extend the lease every third of it; set `lost` when it is someone else's or
        a third of it is all that is left without a renewal."""
        every = self._lease / 3
        while True:
            await self._clock.sleep_until(self._clock.now() + every)
            now = self._clock.now()
            try:
                if not await self._store.renew_webhook_claim(
                    webhook_id, self._node, now + self._lease
                ):
                    lost.set()
                    return
                until = now + self._lease
            except Exception as exc:
                log.warning("renewing the lease on webhook %s failed: %s", webhook_id, exc)
                if until - self._clock.now() <= every:
                    lost.set()
                    return

    async def _attempt(self, delivery: WebhookDeliveryRecord) -> None:
        problem = await self._post(delivery)
        attempts = delivery.attempts + 1
        now = self._clock.now()
        self._observe("delivered" if problem is None else "failed")
        if problem is None:
            status, next_at = DeliveryStatus.DELIVERED, now
        elif attempts >= self._max_attempts:
            status, next_at = DeliveryStatus.FAILED, now
            self._observe("given_up")
            log.warning(
                "%s: webhook %s to %s failed %d times (%s); giving up",
                delivery.conversation_id,
                delivery.webhook_id,
                delivery.url,
                attempts,
                problem,
            )
        else:
            status = DeliveryStatus.PENDING
            next_at = now + self._retry_delay * 2 ** (attempts - 1)
            log.info(
                "%s: webhook %s to %s failed (%s); retrying",
                delivery.conversation_id,
                delivery.webhook_id,
                delivery.url,
                problem,
            )
        if not await self._store.record_webhook_attempt(
            delivery.webhook_id, attempts, status, next_at, claimed_by=self._node
        ):
            log.warning(
                "%s: webhook %s is another node's now; its attempt is not recorded here",
                delivery.conversation_id,
                delivery.webhook_id,
            )

    async def _post(self, delivery: WebhookDeliveryRecord) -> str | None:
        """One POST; None on success, else what went wrong."""
        headers = self._headers(delivery, int(self._clock.now()))
        try:
            # streamed and never read: only the status matters, whatever the body's size
            async with self._client.stream(
                "POST", delivery.url, content=delivery.body, headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug in the HTTP stack costs one attempt, no more
            log.exception("%s: webhook POST raised", delivery.conversation_id)
            return f"unexpected {type(exc).__name__}: {exc}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _headers(self, delivery: WebhookDeliveryRecord, timestamp: int) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "user-agent": "openreplica-webhooks",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, delivery.body)
            headers["webhook-signature"] = standard_signature(
                self._secret, delivery.webhook_id, timestamp, delivery.body
            )
        return headers

    async def _first_of(self, tasks: list[asyncio.Task[None]], deadline: float | None) -> None:
        """Return when one of `tasks` is done or the clock reaches `deadline`."""
        timer = asyncio.ensure_future(
            self._clock.sleep_until(deadline) if deadline is not None else asyncio.Event().wait()
        )
        try:
            await asyncio.wait({*tasks, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
