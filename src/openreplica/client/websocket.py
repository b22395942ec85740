"""The WebSocket transport (SPEC §2.1): the default data channel."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from openreplica.client.errors import ConnectionLost
from openreplica.client.target import ConversationTarget

__all__ = ["WebSocketConnection", "WebSocketTransport"]

#: events can be large (perception frames); the server's own limit governs
_MAX_FRAME = 64 * 1024 * 1024


class WebSocketConnection:
    """One open WebSocket to `/v2/conversations/{id}/ws`."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send(data.decode("utf-8"))
        except ConnectionClosed as closed:
            raise _lost(closed) from None

    async def recv(self) -> bytes | str:
        try:
            return await self._ws.recv()
        except ConnectionClosed as closed:
            raise _lost(closed) from None

    async def close(self) -> None:
        await self._ws.close()


class WebSocketTransport:
    """Connects to a conversation's WebSocket data channel.

    The meeting token goes in `?t=`, an API key in the `x-api-key` header.
    `open_timeout` bounds the handshake; no proxy is used.
    """

    def __init__(self, target: ConversationTarget, *, open_timeout: float = 10.0) -> None:
        self.target = target
        self.open_timeout = open_timeout

    async def connect(self, last_seq: int | None) -> WebSocketConnection:
        url = self.target.ws_url(last_seq)
        try:
            ws = await connect(
                url,
                additional_headers=self.target.auth_headers(),
                open_timeout=self.open_timeout,
                max_size=_MAX_FRAME,
                proxy=None,
                compression=None,
            )
        except InvalidStatus as refused:
            status = refused.response.status_code
            body = refused.response.body.decode("utf-8", "replace") if refused.response.body else ""
            raise ConnectionLost(status, body or f"HTTP {status}") from None
        except ConnectionClosed as closed:
            raise _lost(closed) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ConnectionLost(None, f"cannot reach {url}: {exc}") from None
        return WebSocketConnection(ws)


def _lost(closed: ConnectionClosed) -> ConnectionLost:
    frame: Any = closed.rcvd or closed.sent
    if frame is None:
        return ConnectionLost(1006, "connection lost")
    return ConnectionLost(frame.code, frame.reason)
