"""The relaying side of a WebSocket whose conversation another cluster node hosts.

The client's frames go into a pipe to the owner and the owner's frames come back; the
owner runs the participant channel, so the client sees exactly what a direct connection
shows (replay by `last_seq`, errors, the 4410 close). Closing either side closes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from openreplica.cluster import Pipe, PipeClosed, PipeOpen, Pipes
from openreplica.server.ws_frames import client_frames

__all__ = ["relay_socket"]


async def relay_socket(
    websocket: WebSocket,
    pipes: Pipes,
    owner: str,
    conversation_id: str,
    credential: str | None,
    last_seq: int | None,
) -> None:
    request = PipeOpen(f"p{uuid.uuid4().hex}", conversation_id, credential, last_seq)
    pipe = await pipes.open(owner, request)
    await websocket.accept()
    up = asyncio.create_task(_client_to_owner(websocket, pipe))
    down = asyncio.create_task(_owner_to_client(websocket, pipe))
    try:
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        with contextlib.suppress(Exception):
            await pipe.close(1000, "client left")


async def _client_to_owner(websocket: WebSocket, pipe: Pipe) -> None:
    async for data in client_frames(websocket):
        await pipe.send(data)


async def _owner_to_client(websocket: WebSocket, pipe: Pipe) -> None:
    while True:
        message = await pipe.receive()
        if isinstance(message, PipeClosed):
            if websocket.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(message.code, message.reason)
            return
        await websocket.send({"type": "websocket.send", "text": message.decode()})
