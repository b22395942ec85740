"""Webhook deliveries (SPEC §6): in order per conversation, retried with backoff, signed.

Each conversation with a `callback_url` gets its own queue and one worker task, so its
deliveries arrive in the order they were made while a slow receiver of one conversation
never delays another's. A failed POST (connection error, timeout, non-2xx) is retried
after `retry_delay`, doubling each time, up to `max_attempts`; the wait is on the
injected clock. Then the delivery is given up (and logged) and the next one goes.

With a secret, each POST carries `X-OpenReplica-Signature: sha256=<hex>` where hex is
HMAC-SHA256(secret, raw request body). A receiver verifies it with:

    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-OpenReplica-Signature"])
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from openreplica.runtime import Clock

log = logging.getLogger(__name__)

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "sign", "webhook_body"]

SIGNATURE_HEADER = "X-OpenReplica-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
class _Queue:
    items: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        secret: str | None = None,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        observe: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._client = client
        #: told `delivered`, `failed` (one attempt) or `given_up` (server/metrics.py)
        self._observe = observe
        self._clock = clock
        self._secret = secret
        self._max_attempts = max(1, max_attempts)
        self._retry_delay = retry_delay
        self._queues: dict[str, _Queue] = {}

    def send(
        self, conversation_id: str, url: str, event_type: str, properties: dict[str, Any]
    ) -> None:
        """Queue one delivery; it is made after every earlier one of this conversation."""
        body = webhook_body(event_type, conversation_id, url, self._clock.now(), properties)
        queue = self._queues.get(conversation_id)
        if queue is None:
            queue = self._queues[conversation_id] = _Queue()
        queue.items.put_nowait((url, body))
        if queue.task is None or queue.task.done():
            queue.task = asyncio.create_task(
                self._work(conversation_id, queue), name=f"webhooks-{conversation_id}"
            )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every queued delivery (retries included), at most `timeout` seconds."""
        tasks = [q.task for q in self._queues.values() if q.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def aclose(self, timeout: float = 5.0) -> None:
        await self.drain(timeout)
        for queue in self._queues.values():
            if queue.task is not None:
                queue.task.cancel()
        await asyncio.gather(
            *(q.task for q in self._queues.values() if q.task is not None),
            return_exceptions=True,
        )
        self._queues.clear()

    async def _work(self, conversation_id: str, queue: _Queue) -> None:
        while not queue.items.empty():
            url, body = queue.items.get_nowait()
            await self._deliver(conversation_id, url, body)
        if self._queues.get(conversation_id) is queue:
            del self._queues[conversation_id]

    async def _deliver(self, conversation_id: str, url: str, body: bytes) -> None:
        headers = {"content-type": "application/json", "user-agent": "openreplica-webhooks"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        delay = self._retry_delay
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = await self._client.post(url, content=body, headers=headers)
                if response.is_success:
                    self._observe("delivered")
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            self._observe("failed")
            if attempt == self._max_attempts:
                self._observe("given_up")
                log.warning(
                    "%s: webhook to %s failed %d times (%s); giving up",
                    conversation_id,
                    url,
                    attempt,
                    problem,
                )
                return
            log.info("%s: webhook to %s failed (%s); retrying", conversation_id, url, problem)
            await self._clock.sleep_until(self._clock.now() + delay)
            delay *= 2
