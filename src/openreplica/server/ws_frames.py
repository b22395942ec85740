"""The messages a WebSocket client sends, as bytes, until it disconnects: text frames
(UTF-8 encoded back) and binary frames alike. One reader for the direct socket (ws.py)
and the relayed one (relay.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

__all__ = ["client_frames"]


async def client_frames(websocket: WebSocket) -> AsyncIterator[bytes]:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            data = text.encode() if text is not None else message.get("bytes")
            if data is not None:
                yield data
                # A receive from an already-filled buffer never suspends, so a client
                # sending back to back would otherwise keep the event loop from every
                # other conversation until its buffer drains (#11): give way after each.
                await asyncio.sleep(0)
    except WebSocketDisconnect:
        return
