"""Interactions a relay sent that the owner did not acknowledge are sent again after the
relay moves to a new owner (docs/scaling.md, "Interactions across a takeover").

Each relayed connection numbers the messages it sends to the owner, across every pipe it
opens (`Unacked`, relay side). A pipe starts with a header, `\\0from R N`: the connection
`R`, and the number of the message before the first that follows. The owner (`Inbound`)
counts the messages from there, hands each to the participant channel, which handles an
interaction synchronously (its events are sequenced by the time `receive` returns), and
then acknowledges how far it got: `\\0ack N`, cumulative, at once but then at most
once per `ACK_DELAY` (a stream of interactions, e.g. echoed audio, costs at most one
Redis command per `ACK_DELAY`; one on its own is acknowledged at once). The relay forgets what was
acknowledged; when it moves to a new pipe (the owner died and another node took the
conversation over, or the owner restarted), it sends the header and then everything
still unacknowledged, in order, before anything newer.

What a client's interactions get:
- sent into a dead owner's pipe (after it died, before the relay moved): never handled
  by it, so sent again and handled once, by the new owner;
- handled by the owner, acknowledged: never sent again;
- handled by an owner that died before its acknowledgement reached Redis (a Redis
  round trip; up to `ACK_DELAY` more in a stream of interactions): sent again, so
  handled twice if its events had reached the stream (at least once, not exactly once,
  in that window);
- sent again to the same owner process (the relay moved twice, e.g. its liveness check
  and the stream's owner mark both moved it): the owner remembers, per connection, the
  highest number it handled (`Handled`, bounded), and skips what it saw: once;
- sent while the owner hands the conversation over (it drains: server/drain.py): from
  the halt on, the owner hands nothing more to the channel and acknowledges nothing more
  (server/cluster_node.py), and it gives the new owner, with the conversation, how far it
  got on each of the conversation's relayed connections (`Handled.of_conversation`,
  `Handled.seed`): the relay sends again what was not acknowledged, and the new owner
  skips what the old one handled (an acknowledgement still on its way) and handles the
  rest: once.
The relay keeps at most `KEPT` unacknowledged messages and `KEPT_BYTES` of them (older
ones are dropped, logged).
Frames starting with NUL are this protocol's: JSON never does.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

__all__ = ["ACK_DELAY", "KEPT", "KEPT_BYTES", "Handled", "Inbound", "Unacked", "is_control"]

#: unacknowledged messages a relay keeps at most, and their bytes at most
KEPT = 256
KEPT_BYTES = 4 << 20
#: seconds between two acknowledgements of one pipe (what came meanwhile waits)
ACK_DELAY = 0.05
#: connections an owner remembers the highest handled number of
REMEMBERED = 4096
_FROM = b"\0from "
_ACK = b"\0ack "


def is_control(message: bytes) -> bool:
    """A frame of this protocol (never passed on to a client or a channel)."""
    return message[:1] == b"\0"


class Unacked:
    """Relay side: what this connection sent that no owner acknowledged yet."""

    def __init__(self, kept: int = KEPT, kept_bytes: int = KEPT_BYTES) -> None:
        self.connection = uuid.uuid4().hex
        self._kept: deque[tuple[int, bytes]] = deque()
        self._limit = kept
        self._limit_bytes = kept_bytes
        self._bytes = 0
        self._last = 0  # the number of the newest message sent
        self._dropped = 0

    def header(self) -> bytes:
        """The first frame of a new pipe (then `pending()` follows on it)."""
        before = self._kept[0][0] - 1 if self._kept else self._last
        return _FROM + f"{self.connection} {before}".encode()

    def sent(self, data: bytes) -> None:
        self._last += 1
        self._kept.append((self._last, data))
        self._bytes += len(data)
        while len(self._kept) > self._limit or self._bytes > self._limit_bytes:
            self._bytes -= len(self._kept.popleft()[1])
            self._dropped += 1
            if self._dropped == 1:
                log.warning("relay %s: more than %d unacknowledged", self.connection, self._limit)

    def pending(self) -> list[bytes]:
        return [data for _, data in self._kept]

    def on_control(self, message: bytes) -> None:
        """An acknowledgement from the owner (any pipe: the numbers are the connection's)."""
        if not message.startswith(_ACK):
            return
        try:
            upto = int(message[len(_ACK) :])
        except ValueError:
            return
        while self._kept and self._kept[0][0] <= upto:
            self._bytes -= len(self._kept.popleft()[1])


class Handled:
    """Owner side, one per node: the highest message number handled per relayed
    connection (the newest `REMEMBERED` connections), and the conversation of each."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._highest: OrderedDict[str, int] = OrderedDict()
        self._conversation: dict[str, str] = {}
        self._remembered = remembered

    def get(self, connection: str) -> int:
        return self._highest.get(connection, 0)

    def set(self, connection: str, number: int, conversation: str | None = None) -> None:
        self._highest[connection] = max(number, self._highest.get(connection, 0))
        self._highest.move_to_end(connection)
        if conversation is not None:
            self._conversation[connection] = conversation
        while len(self._highest) > self._remembered:
            forgotten, _ = self._highest.popitem(last=False)
            self._conversation.pop(forgotten, None)

    def of_conversation(self, conversation: str) -> dict[str, int]:
        """How far this node got on each relayed connection of `conversation` (handed to
        the node the conversation moves to: `seed`)."""
        return {
            connection: self._highest[connection]
            for connection, of in self._conversation.items()
            if of == conversation and connection in self._highest
        }

    def seed(self, conversation: str, highest: Mapping[str, int]) -> None:
        """The conversation moved here from a node that had handled this much of its
        relayed connections: what is sent again up to there is skipped here."""
        for connection, number in highest.items():
            self.set(connection, number, conversation)


class Inbound:
    """Owner side, one per pipe: which messages to hand to the channel, and the
    acknowledgements back (`send`: the pipe's; `sleep`: the node clock's, for
    `delay`)."""

    def __init__(
        self,
        handled: Handled,
        send: Callable[[bytes], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]],
        delay: float = ACK_DELAY,
        conversation: str | None = None,
    ) -> None:
        self._handled = handled
        self._conversation = conversation
        self._send = send
        self._sleep = sleep
        self._delay = delay
        self._connection: str | None = None  # None: a relay that numbers nothing
        self._number = 0
        self._acking: asyncio.Task[None] | None = None

    def accept(self, message: bytes) -> bool:
        """Whether to hand `message` to the channel (then call `done`); False for this
        protocol's frames and for messages this node handled already."""
        if is_control(message):
            if message.startswith(_FROM):
                connection, _, before = (
                    message[len(_FROM) :].decode(errors="replace").partition(" ")
                )
                if before.isdigit():
                    self._connection, self._number = connection, int(before)
            return False
        if self._connection is None:
            return True
        self._number += 1
        if self._number <= self._handled.get(self._connection):
            self._ack()  # seen on another pipe: acknowledge it again, do not redo it
            return False
        return True

    def done(self) -> None:
        """The message `accept` let through was handled."""
        if self._connection is not None:
            self._handled.set(self._connection, self._number, self._conversation)
            self._ack()

    def _ack(self) -> None:
        if self._acking is None or self._acking.done():
            self._acking = asyncio.create_task(self._send_acks(), name="relay-acks")

    async def _send_acks(self) -> None:
        sent = -1
        while self._connection is not None:
            upto = self._handled.get(self._connection)
            if upto == sent:
                return
            try:
                await self._send(_ACK + str(upto).encode())
            except Exception as exc:  # the relay sends them again: at least once
                log.debug("acknowledging relayed messages failed (%s)", exc)
                return
            sent = upto
            await self._sleep(self._delay)  # what comes meanwhile: one acknowledgement

    async def aclose(self) -> None:
        if self._acking is not None:
            self._acking.cancel()
            await asyncio.gather(self._acking, return_exceptions=True)
