"""`GET /v2/conversations/{id}/ws`: the WebSocket data channel (SPEC §2.1).

A thin wrapper around `ConversationChannel`: one text frame = one message. Credentials
come from `?t=<meeting_token>` or the `x-api-key` header. A refused join is accepted and
then closed with its code so every client library sees it: 4401 not authorised, 4404 no
such conversation (only to a holder of the server's API key: see `hub.authorise`), 4410
ended. Text frames that are not UTF-8 arrive as bytes (`ws_protocol`) and get
`invalid_json` like any other bad message. When the conversation shuts down, `system.shutdown` is
sent and the socket is closed with 4410. A peer too slow to keep up is closed with 1013
and may reconnect with `?last_seq=`. When the conversation moves to another cluster node
(this one drains, or fenced itself off: server/fencing.py), the socket is closed with
1012 and the client reconnects with `?last_seq=` through any node (docs/scaling.md); a
fenced node closes the sockets it relays to other nodes with 1012 too. What the client
sent from the moment the conversation stopped here until that close is refused, each
message with a `system.error` `conversation_moving` sent before the close, or never read
(it reached the server after the close began): never handled, never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from openreplica.server.hub import MOVED, MOVED_FLUSH, MOVED_REASON, ConversationHub, JoinRefused
from openreplica.server.relay import relay_socket
from openreplica.server.ws_frames import client_frames
from openreplica.transports import ConversationChannel

log = logging.getLogger(__name__)

__all__ = ["router"]

router = APIRouter()

ENDED = 4410
TOO_SLOW = 1013


def _last_seq(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return max(0, value)


@router.websocket("/v2/conversations/{conversation_id}/ws")
async def conversation_socket(websocket: WebSocket, conversation_id: str) -> None:
    hub: ConversationHub = websocket.app.state.hub
    query = websocket.query_params
    credential = query.get("t") or websocket.headers.get("x-api-key")
    owner = await _owner_elsewhere(websocket, conversation_id)
    if owner is not None:  # another cluster node hosts it: relay (server/relay.py)
        node = websocket.app.state.node
        try:  # here, before the relay streams any event
            await hub.authorise(conversation_id, credential)
        except JoinRefused as refused:
            await websocket.accept()
            await websocket.close(refused.close_code, refused.message)
            return
        with websocket.app.state.relays.relaying(owner):
            relaying = relay_socket(
                websocket,
                node.relay_links(),
                owner,
                conversation_id,
                credential,
                _last_seq(query.get("last_seq")),
            )
            await _relay_until_fenced(websocket, hub, relaying)
        return
    try:
        async with hub.participant(conversation_id, credential) as participant:
            await websocket.accept()

            async def send(data: bytes) -> None:
                await websocket.send({"type": "websocket.send", "text": data.decode()})

            channel = ConversationChannel(
                participant.runtime,
                send,
                participant.clock,
                participant.limits,
                participant.history,
                participant.conversation_bucket,
            )
            await channel.open(_last_seq(query.get("last_seq")))
            await participant.join()  # the replica joins (the first time)
            try:
                await _serve(websocket, channel, participant.moved)
            finally:
                await channel.close()
    except JoinRefused as refused:
        await websocket.accept()
        await websocket.close(refused.close_code, refused.message)
    except Exception:
        log.exception("%s: WebSocket failed", conversation_id)
        if websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(1011, "internal error")


async def _relay_until_fenced(
    websocket: WebSocket, hub: ConversationHub, relaying: Coroutine[Any, Any, None]
) -> None:
    """Run the relay; if this node fences itself off meanwhile (server/fencing.py: it lost
    Redis, which the relay needs), close the client with 1012 to reconnect elsewhere."""
    relay = asyncio.create_task(relaying, name="relay")
    fenced = asyncio.create_task(hub.wait_fenced())
    try:
        await asyncio.wait({relay, fenced}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        fenced.cancel()
        if not relay.done() and not fenced.done():  # this handler was cancelled
            relay.cancel()
    if relay.done():
        await relay  # its outcome, as when it ran here
        return
    relay.cancel()  # it ends once Redis answers again; the client goes elsewhere
    with contextlib.suppress(Exception):
        if websocket.application_state == WebSocketState.CONNECTING:
            await websocket.accept()  # fenced before the relay accepted it
        if websocket.client_state == WebSocketState.CONNECTED:
            await websocket.close(MOVED, MOVED_REASON)


async def _owner_elsewhere(websocket: WebSocket, conversation_id: str) -> str | None:
    node = websocket.app.state.node
    if not node.clustered:
        return None
    record = await websocket.app.state.services.store.get_conversation(conversation_id)
    return None if record is None else await node.owner_elsewhere(record)


async def _serve(websocket: WebSocket, channel: ConversationChannel, moved: asyncio.Event) -> None:
    reader = asyncio.create_task(_read(websocket, channel))
    finished = asyncio.create_task(channel.finished.wait())
    moving = asyncio.create_task(moved.wait())
    try:
        await asyncio.wait({reader, finished, moving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, finished, moving):
            task.cancel()
        await asyncio.gather(reader, finished, moving, return_exceptions=True)
    if moved.is_set() and not channel.finished.is_set():
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                # the refusals (`conversation_moving`) of what was read after the halt
                # reach the client before the close; what it sent later is never read
                async with asyncio.timeout(MOVED_FLUSH):
                    await channel.sent()
            with contextlib.suppress(Exception):
                await websocket.close(MOVED, MOVED_REASON)
        return
    if channel.finished.is_set() and websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            if channel.overflowed:
                await websocket.close(TOO_SLOW, "too far behind: reconnect with last_seq")
            else:
                await websocket.close(ENDED, "conversation has ended")


async def _read(websocket: WebSocket, channel: ConversationChannel) -> None:
    async for data in client_frames(websocket):
        channel.receive(data)
