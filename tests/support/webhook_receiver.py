"""A webhook receiver on 127.0.0.1 that misbehaves on cue, for the durability tests.

Raw asyncio so a test controls the socket itself: each connection follows the next
entry of `plan` (then `default`):

- `ok`: answer 204 and count the request as delivered,
- `fail`: answer 500,
- `hang`: read the request and never answer (until the sender gives up and closes),
- `close`: reset the connection right after accepting it, before reading anything.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

Behaviour = Literal["ok", "fail", "hang", "close"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    behaviour: Behaviour
    #: monotonic seconds: the request was read / its connection was over (None: still open)
    started: float = 0.0
    ended: float | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class WebhookReceiver:
    plan: list[Behaviour] = field(default_factory=list)
    default: Behaviour = "ok"
    #: every request read (not the connections reset before reading)
    requests: list[Received] = field(default_factory=list)
    resets: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.behaviour == "ok"]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        behaviour = self.plan.pop(0) if self.plan else self.default
        received: Received | None = None
        try:
            if behaviour == "close":
                self.resets += 1
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()  # RST while the sender is still connecting
                return
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(path, headers, body, behaviour, time.monotonic())
            self.requests.append(received)
            if behaviour == "hang":
                while await reader.read(4096):  # until the sender closes (or dies)
                    pass
                return
            status = "204 No Content" if behaviour == "ok" else "500 Internal Server Error"
            received.ended = time.monotonic()  # answered: the sender may go on from here
            writer.write(
                f"HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".encode()
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if received is not None and received.ended is None:
                received.ended = time.monotonic()
            self._tasks.discard(task)
            writer.close()
