"""A lean Redis connection for the relay's hot path: commands go on the socket when called.

redis-py runs every command as a coroutine: a pool checkout, its retry and observability
wrappers, the write, the read. On the path of a relayed message that cost about 25 µs of
CPU per command on a warm loop and several times that on a loop that was idle (a user's
message after a pause: caches gone cold), and a write made from a broadcast listener
only left once the loop came round to the task making it. `RespConnection.send` packs
the command (hiredis) and writes it to the transport before it returns; replies, parsed
by hiredis as they arrive, resolve the commands' futures in order (one connection:
Redis answers in the order it was sent).

Until the connection is up (the first command, or after it dropped) commands wait in
order and are written once the handshake (AUTH, SELECT, the registered scripts'
`SCRIPT LOAD`) is; a dropped connection fails every command not answered yet
(`ConnectionError`: it may or may not have run) and the next command connects again.
A blocking read (`XREAD BLOCK`) holds its connection: it gets one of its own
(`another`), reset when the read is given up. Which URLs it speaks: `redis://` and
`unix://`, with a user, password and database, and no query options (`from_url` gives
None otherwise: callers keep redis-py's path).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError, ResponseError

__all__ = ["RespAddress", "RespConnection"]

Arg = str | bytes | int | float
#: turns a reply into the command's result (or raises), as the reply is read
Check = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class RespAddress:
    host: str = "127.0.0.1"
    port: int = 6379
    #: a Unix socket path instead of host and port
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> RespAddress | None:
        """The address in a Redis URL, or None when it needs what this module does not
        speak (TLS, query options)."""
        parsed = urlparse(url)
        if parsed.query or parsed.scheme not in ("redis", "unix"):
            return None
        username = unquote(parsed.username) if parsed.username else None
        password = unquote(parsed.password) if parsed.password else None
        if parsed.scheme == "unix":
            return cls(path=unquote(parsed.path), username=username, password=password)
        db = unquote(parsed.path).strip("/")
        if db and not db.isdigit():
            return None
        return cls(
            host=unquote(parsed.hostname or "127.0.0.1"),
            port=parsed.port or 6379,
            db=int(db or 0),
            username=username,
            password=password,
        )


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: RespConnection) -> None:
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        self._owner._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._lost(self, exc)


class RespConnection:
    def __init__(self, address: RespAddress, connect_timeout: float = 5.0) -> None:
        self._address = address
        self._connect_timeout = connect_timeout
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        #: the commands written, in order; None: a handshake command
        self._answers: deque[_Command | None] = deque()
        #: commands made while not connected: written in order once connected
        self._waiting: deque[tuple[bytes, _Command]] = deque()
        self._connecting: asyncio.Task[None] | None = None
        self._scripts: dict[str, bytes] = {}
        self._closed = False
        #: commands written to the socket in the call that made them (a count, for tests)
        self.written_at_once = 0

    def register_script(self, script: str) -> str:
        """Load `script` on every connection, before any command; returns its SHA1
        for `EVALSHA`."""
        sha = hashlib.sha1(script.encode()).hexdigest()
        self._scripts[sha] = script.encode()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_pack(("SCRIPT", "LOAD", script)))
            self._answers.append(None)
        return sha

    def send(self, *args: Arg, check: Check | None = None) -> asyncio.Future[Any]:
        """Write a command now (or, while connecting, after those made before it); the
        future gets its reply (through `check`, when given), raises its error reply
        (`ResponseError`), or `ConnectionError` as soon as the connection dropped before
        the reply (whether the command ran is then unknown)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(ConnectionError("the connection is closed"))
            return future
        packed = _pack(args)
        command = _Command(future, check)
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(packed)
            self._answers.append(command)
            self.written_at_once += 1
        else:
            self._waiting.append((packed, command))
            if self._connecting is None:
                self._connecting = asyncio.create_task(self._connect(), name="resp-connect")
        return future

    def another(self) -> RespConnection:
        """A new connection to the same Redis (for a blocking read: one at a time)."""
        return RespConnection(self._address, self._connect_timeout)

    def reset(self) -> None:
        """Drop the connection now (a command is left unanswered on it: a blocking read
        given up); the next command connects again."""
        self._drop(ConnectionError("the connection was reset"))

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._transport is not None:
            self._transport.close()
        self._fail(ConnectionError("the connection is closed"))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        address = self._address
        try:
            async with asyncio.timeout(self._connect_timeout):
                if address.path is not None:
                    transport, protocol = await loop.create_unix_connection(
                        lambda: _Protocol(self), address.path
                    )
                else:
                    transport, protocol = await loop.create_connection(
                        lambda: _Protocol(self), address.host, address.port
                    )
        except Exception as error:  # refused, unreachable, timed out
            self._connecting = None
            self._fail(ConnectionError(f"cannot connect to Redis: {error}"))
            return
        self._connecting = None
        if self._closed:
            transport.close()
            return
        self._transport, self._protocol = transport, protocol
        self._reader = hiredis.Reader(replyError=ResponseError)
        handshake: list[tuple[Arg, ...]] = []
        if address.password is not None:
            user = (address.username,) if address.username else ()
            handshake.append(("AUTH", *user, address.password))
        if address.db:
            handshake.append(("SELECT", address.db))
        handshake += [("SCRIPT", "LOAD", body) for body in self._scripts.values()]
        for step in handshake:
            transport.write(_pack(step))
            self._answers.append(None)
        while self._waiting:
            packed, command = self._waiting.popleft()
            transport.write(packed)
            self._answers.append(command)

    def _received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._answers:  # out of step: nothing can be trusted on it now
                self._drop(ConnectionError("Redis answered a command not sent"))
                return
            command = self._answers.popleft()
            if command is None:  # the handshake's: an error there makes the link unusable
                if isinstance(reply, ResponseError):
                    self._drop(ConnectionError(f"Redis handshake failed: {reply}"))
                    return
                continue
            command.answer(reply)
            if isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"):
                # the scripts were flushed: a new connection loads them again
                self._drop(ConnectionError("Redis lost the scripts"))
                return

    def _lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self._transport = self._protocol = None
        self._fail(ConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def _drop(self, error: ConnectionError) -> None:
        transport = self._transport
        self._transport = self._protocol = None
        if transport is not None:
            transport.abort()
        self._fail(error)

    def _fail(self, error: ConnectionError) -> None:
        answers, self._answers = self._answers, deque()
        waiting, self._waiting = self._waiting, deque()
        for command in [c for c in answers if c is not None] + [c for _, c in waiting]:
            if not command.future.done():
                command.future.set_exception(error)


def _pack(args: tuple[Arg, ...]) -> bytes:
    packed: bytes = hiredis.pack_command(cast(Any, args))  # (its stub says a 1-tuple)
    return packed


@dataclass(frozen=True, slots=True)
class _Command:
    future: asyncio.Future[Any]
    check: Check | None

    def answer(self, reply: Any) -> None:
        if self.future.done():  # its caller stopped waiting
            return
        if isinstance(reply, ResponseError):
            self.future.set_exception(reply)
            return
        try:
            result = reply if self.check is None else self.check(reply)
        except Exception as error:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)
