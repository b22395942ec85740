"""An in-process client transport: the client SDK joins a conversation of an app running
in this same process, straight through its hub and participant channel. No socket, no
subprocess (httpx's `ASGITransport` is the model, and pairs with it for the REST calls):

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with ReplicaClient("http://app", http_transport=httpx.ASGITransport(app)) as c:
            info = await c.create_conversation(persona_id=...)
            link = InProcessTransport(app, info["conversation_id"])
            async with await c.connect(info, transport=link) as conv: ...

A connection behaves as the WebSocket endpoint does (server/ws.py): the same bytes, the
same refusals (`ConnectionLost` with 4401, 4404 or 4410), `last_seq` replayed first, and
after `system.shutdown` the connection closes with 4410 (1013 for a peer too far behind).
It lives in the server package because it needs the hub; the client SDK itself depends
on the protocol only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI

from openreplica.client.errors import ConnectionLost
from openreplica.server.hub import ConversationHub, JoinRefused
from openreplica.server.ws import ENDED, TOO_SLOW
from openreplica.transports import ConversationChannel

__all__ = ["InProcessConnection", "InProcessTransport"]

log = logging.getLogger(__name__)

#: what a WebSocket peer would see when the server fails (1011 internal error)
_FAILED = 1011


class InProcessConnection:
    """One participant connection; `send`/`recv`/`close` as the client's `Connection`."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[bytes | ConnectionLost] = asyncio.Queue()
        self._channel: ConversationChannel | None = None
        self._leave = asyncio.Event()
        self._serving: asyncio.Task[None] | None = None
        self._open = True

    async def send(self, data: bytes) -> None:
        if not self._open or self._channel is None:
            raise ConnectionLost(1006, "connection closed")
        self._channel.receive(data)

    async def recv(self) -> bytes:
        item = await self._inbox.get()
        if isinstance(item, ConnectionLost):
            self._inbox.put_nowait(item)  # every later recv fails the same way
            raise item
        return item

    async def close(self) -> None:
        if self._open:
            self._lost(1000, "closed by the client")
        self._leave.set()
        if self._serving is not None:
            await asyncio.gather(self._serving, return_exceptions=True)

    # ------------------------------------------------------------------ server side

    async def _deliver(self, data: bytes) -> None:
        if self._open:
            self._inbox.put_nowait(data)

    def _lost(self, code: int, reason: str) -> None:
        if self._open:
            self._open = False
            self._inbox.put_nowait(ConnectionLost(code, reason))

    async def _serve(
        self,
        hub: ConversationHub,
        conversation_id: str,
        credential: str | None,
        last_seq: int | None,
        ready: asyncio.Future[None],
    ) -> None:
        """The server side of the connection, for as long as it lasts (ws.py's twin)."""
        try:
            async with hub.participant(conversation_id, credential) as participant:
                channel = ConversationChannel(
                    participant.runtime,
                    self._deliver,
                    participant.clock,
                    participant.limits,
                    participant.history,
                    participant.conversation_bucket,
                )
                await channel.open(last_seq)
                await participant.join()  # the replica joins (the first time)
                self._channel = channel
                ready.set_result(None)
                try:
                    await _first(channel.finished.wait(), self._leave.wait())
                finally:
                    await channel.close()
                if channel.overflowed:
                    self._lost(TOO_SLOW, "too far behind: reconnect with last_seq")
                elif channel.finished.is_set():
                    self._lost(ENDED, "conversation has ended")
        except JoinRefused as refused:
            self._open = False
            if not ready.done():
                ready.set_exception(ConnectionLost(refused.close_code, refused.message))
        except Exception:
            log.exception("%s: in-process connection failed", conversation_id)
            self._lost(_FAILED, "internal error")
            if not ready.done():
                ready.set_exception(ConnectionLost(_FAILED, "internal error"))


class InProcessTransport:
    """Connects to one conversation of `app` (its lifespan must be running).

    `credential` is what a WebSocket client would give as `?t=` or `x-api-key`: the
    conversation's meeting token or the server's API key (None for an open one).
    """

    def __init__(self, app: FastAPI, conversation_id: str, *, credential: str | None = None):
        self.app = app
        self.conversation_id = conversation_id
        self.credential = credential

    async def connect(self, last_seq: int | None) -> InProcessConnection:
        hub: ConversationHub = self.app.state.hub
        connection = InProcessConnection()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        connection._serving = asyncio.create_task(
            connection._serve(hub, self.conversation_id, self.credential, last_seq, ready),
            name=f"in-process-{self.conversation_id}",
        )
        try:
            await asyncio.shield(ready)
        except asyncio.CancelledError:
            await connection.close()
            raise
        return connection


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of these coroutines finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
