"""The relaying side of a WebSocket whose conversation another cluster node hosts.

Events come from the conversation's event stream (cluster/events.py), which the owner
appends every event to: the relay replays what the client missed (`last_seq`: the
stream, older events from the database) and then follows the stream, each `seq` once
and in order. Interactions go to the owner through a pipe, whose other end runs the
real participant channel (rate limits, validation) and sends back only what is meant
for this client alone (its errors) and the close code.

When the owner dies, the relay keeps the client's socket: once another node has taken
the conversation over (docs/scaling.md) it opens a pipe to the new owner and goes on
reading the same stream, where the new owner continues the `seq`s. The new owner marks
the stream (`OwnerChanged`) before its first event, so the relay has moved before the
client sees anything from the new owner; a relay also checks every heartbeat. The client sees
the events that end the cut reply and then the conversation going on; interactions it
sent that the dead owner did not acknowledge (those sent between the death and the
switch, mostly) are sent again to the new owner (server/relay_resend.py says what that
guarantees). If the conversation ends instead (`node_failed`), the client gets that
`system.shutdown` and the 4410 close. A draining owner hands its conversations over the
same way, only sooner: it closes the pipe with `MOVED` (1012) once the new owner has
marked the stream, and the relay moves on that mark (or, at the latest, when the old
owner leaves the registry).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from openreplica.cluster import EventStreams, OwnerChanged, Pipe, PipeClosed, PipeOpen, Pipes
from openreplica.server.relay_resend import Unacked, is_control
from openreplica.server.ws_frames import client_frames

log = logging.getLogger(__name__)

__all__ = ["RelayLinks", "relay_socket"]

ENDED = 4410
#: the owner handed the conversation to another node (it drains): the stream's
#: `OwnerChanged` mark moves the relay there, so the client's socket stays open
MOVED = 1012
_SHUTDOWN = b'"event_type":"system.shutdown"'
#: seconds the relay waits for the stream to bring `system.shutdown` once the owner said
#: the conversation ended, before it closes anyway
SHUTDOWN_WAIT = 3.0


@dataclass(frozen=True)
class RelayLinks:
    """What a relay needs from its node."""

    pipes: Pipes
    streams: EventStreams
    #: stored events with seq > n (older than the stream retains)
    stored_events: Callable[[str, int], Awaitable[list[tuple[int, bytes]]]]
    #: the newest stored seq
    stored_newest: Callable[[str], Awaitable[int]]
    #: True while the node is known live (no I/O: the node's view from its heartbeat)
    is_live: Callable[[str], bool]
    #: the live node hosting the conversation now, after taking it over from a dead
    #: one if needed; None when it has ended
    owner_now: Callable[[str], Awaitable[str | None]]
    #: sleep this many seconds (the node's clock)
    sleep: Callable[[float], Awaitable[None]]
    #: how often the owner's liveness is checked
    check_every: float


async def relay_socket(
    websocket: WebSocket,
    links: RelayLinks,
    owner: str,
    conversation_id: str,
    credential: str | None,
    last_seq: int | None,
) -> None:
    relay = _Relay(websocket, links, owner, conversation_id, credential)
    await relay.run(last_seq)


class _Relay:
    def __init__(
        self,
        websocket: WebSocket,
        links: RelayLinks,
        owner: str,
        conversation_id: str,
        credential: str | None,
    ) -> None:
        self._ws = websocket
        self._links = links
        self._owner = owner
        self._cid = conversation_id
        self._credential = credential
        self._pipe: Pipe | None = None
        self._sending = asyncio.Lock()
        #: sent to an owner, not acknowledged: sent again on a new pipe (relay_resend.py)
        self._unacked = Unacked()
        self._up = asyncio.Lock()  # the order of frames to the owner across a switch
        self._switching = asyncio.Lock()
        self._last_sent = 0
        self._shutdown_sent = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self._done = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._replies: asyncio.Task[None] | None = None

    async def run(self, last_seq: int | None) -> None:
        # where the events start is fixed before the owner may start the conversation
        # (the replica joins when the first participant's channel opens)
        start = await self._start(last_seq)
        self._pipe = await self._open(self._owner, last_seq)
        await self._pipe.send(self._unacked.header())
        await self._ws.accept()
        self._follower = asyncio.create_task(self._follow(start))
        self._replies = asyncio.create_task(self._from_owner(self._pipe))
        up = asyncio.create_task(self._from_client())
        watch = asyncio.create_task(self._watch())
        done = asyncio.create_task(self._done.wait())
        try:
            await asyncio.wait({up, done}, return_when=asyncio.FIRST_COMPLETED)
            if self._close is not None and self._ws.client_state == WebSocketState.CONNECTED:
                async with self._sending:  # while the client reader still runs
                    with contextlib.suppress(Exception):
                        await self._ws.close(*self._close)
        finally:
            tasks = [t for t in (up, watch, done, self._follower, self._replies) if t]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._pipe is not None:
                with contextlib.suppress(Exception):
                    await self._pipe.close(1000, "client left")

    def _finish(self, code: int, reason: str) -> None:
        if self._close is None:
            self._close = (code, reason)
        self._done.set()

    async def _open(self, owner: str, last_seq: int | None) -> Pipe:
        request = PipeOpen(
            f"p{uuid.uuid4().hex}", self._cid, self._credential, last_seq, stream_events=True
        )
        return await self._links.pipes.open(owner, request)

    async def _send(self, data: bytes) -> None:
        async with self._sending:
            await self._ws.send({"type": "websocket.send", "text": data.decode()})

    # ------------------------------------------------------------------ events

    async def _start(self, after: int | None) -> int:
        """Where to deliver from: `after`, or the newest event (None: from now on, or
        beyond the newest: the owner's channel answers that with an error)."""
        links, cid = self._links, self._cid
        newest = max(await links.streams.newest(cid), await links.stored_newest(cid))
        return newest if after is None else min(after, newest)

    async def _follow(self, start: int) -> None:
        """Every event after `start`, then live, each seq once and in order."""
        links, cid = self._links, self._cid
        self._last_sent = start
        retained = await links.streams.read(cid, start)
        if not retained or retained[0][0] > start + 1:
            first = retained[0][0] if retained else None
            older = await links.stored_events(cid, start)
            retained = [e for e in older if first is None or e[0] < first] + retained
        await self._deliver(retained)
        async for batch in links.streams.follow(cid, self._last_sent):
            await self._deliver(batch)

    async def _deliver(self, events: Sequence[tuple[int, bytes] | OwnerChanged]) -> None:
        for entry in events:
            if isinstance(entry, OwnerChanged):  # before the new owner's first event
                await self._switch(entry.node_id, restarted=True)
                continue
            seq, data = entry
            if seq <= self._last_sent:
                continue
            self._last_sent = seq
            await self._send(data)
            if _SHUTDOWN in data:
                self._shutdown_sent.set()
                self._finish(ENDED, "conversation has ended")

    async def _restart(self, after: int) -> None:
        """`system.resume`: replay from `after` again (the owner validates the message)."""
        start = await self._start(after)
        if self._follower is not None:
            self._follower.cancel()
        self._follower = asyncio.create_task(self._follow(start))

    # ------------------------------------------------------------------ the owner

    async def _from_client(self) -> None:
        async for data in client_frames(self._ws):
            if b"system.resume" in data:
                after = _resume_seq(data)
                if after is not None:
                    await self._restart(after)
            if is_control(data):  # only nodes speak that: to the owner it is bad JSON
                data = b" " + data
            async with self._up:
                self._unacked.sent(data)
                if self._pipe is not None:
                    await self._pipe.send(data)

    async def _from_owner(self, pipe: Pipe) -> None:
        while True:
            message = await pipe.receive()
            if not isinstance(message, PipeClosed):
                if is_control(message):  # an acknowledgement
                    self._unacked.on_control(message)
                else:
                    await self._send(message)
                continue
            if message.code == ENDED:  # the stream brings the shutdown itself
                await self._ended()
            elif message.code == MOVED:  # the stream's owner mark (or `_watch`) moves us
                log.info("%s: %s handed the conversation over", self._cid, self._owner)
            else:
                self._finish(message.code, message.reason)
            return

    async def _ended(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shutdown_sent.wait(), SHUTDOWN_WAIT)
        self._finish(ENDED, "conversation has ended")

    async def _watch(self) -> None:
        """Move to the node that took the conversation over when the owner dies."""
        links = self._links
        while True:
            await links.sleep(links.check_every)
            if links.is_live(self._owner):
                continue
            owner = await links.owner_now(self._cid)
            if owner is None:
                await self._ended()
                return
            await self._switch(owner)

    async def _switch(self, owner: str, restarted: bool = False) -> None:
        """Interactions go to `owner` from now on (it took the conversation over;
        `restarted`: a new process, maybe with the old owner's id)."""
        async with self._switching:
            if owner == self._owner and not restarted:
                return
            log.info("%s: relaying to %s (%s failed)", self._cid, owner, self._owner)
            pipe = await self._open(owner, None)
            async with self._up:  # before anything newer: what no owner acknowledged
                pending = self._unacked.pending()
                for frame in [self._unacked.header(), *pending]:
                    await pipe.send(frame)
                if pending:
                    log.warning(
                        "%s: sent %s again %d unacknowledged", self._cid, owner, len(pending)
                    )
                old, self._pipe = self._pipe, pipe
            self._owner = owner
            if self._replies is not None:
                self._replies.cancel()
            self._replies = asyncio.create_task(self._from_owner(self._pipe))
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.close(1000, "owner failed")


def _resume_seq(data: bytes) -> int | None:
    try:
        message = json.loads(data)
        value = message["properties"]["last_seq"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None
