"""Redis backends: the node registry and placement (Lua scripts, so each step is atomic)
and relay pipes (Redis Streams).

Keys (prefix `or:`):
- `or:nodes`: set of node ids ever registered (pruned when their hash is gone)
- `or:node:{id}`: hash url, capacity, load, cpu, draining; expires with the heartbeat TTL
- `or:inbox:{id}`: stream of pipe opens for node `id`
- `or:pipe:{pipe}:to-owner` / `:to-relay`: one stream per direction of one connection,
  expiring when idle (`PIPE_IDLE_TTL`)
- `or:events:{conversation}`: the conversation's events, entry id `{seq}-0`, the newest
  `retained` kept (`XADD MAXLEN ~`), expiring when idle (`EVENTS_IDLE_TTL`)
- `or:events:{conversation}:owner`: the node that took the conversation over last
  (`mark_owner`, `claim`); appends from any other node are refused whole (the fence on
  the owner's identity, which lets a node keep several appends in flight); expires with
  the stream

The commands on a relayed message's path that write (a pipe's `XADD`, an event append)
go over one lean connection per node when one is given (cluster/resp.py): each is on
the socket when the call returns, and they keep the order they were made in. Without
one (a URL it does not speak), redis-py sends them, appends one after the other.

The blocking reads (`XREAD BLOCK`) loop until cancelled; each checks for a cancellation
redis-py swallowed (cluster/cancellation.py), so that a node stopping can end them.

Scripts touch keys they compute from arguments: fine on one Redis (or a primary with
replicas, Sentinel), not on Redis Cluster (docs/scaling.md says where it partitions).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from openreplica.cluster.cancellation import raise_if_cancelled
from openreplica.cluster.coordinator import NodeStatus
from openreplica.cluster.events import Entry, NotOwner, OwnerChanged, StaleAppend
from openreplica.cluster.pipes import PipeClosed, PipeOpen
from openreplica.cluster.resp import RespConnection

__all__ = [
    "EVENTS_IDLE_TTL",
    "PIPE_IDLE_TTL",
    "RedisCoordinator",
    "RedisEventStreams",
    "RedisPipes",
]

PREFIX = "or:"
NODES = PREFIX + "nodes"
#: seconds a pipe's streams outlive their last message (a relay that vanished)
PIPE_IDLE_TTL = 600
#: a pipe end renews its stream's expiry at most this often (seconds), so that most
#: messages cost one XADD: the stream outlives its last message by at least
#: PIPE_IDLE_TTL - PIPE_EXPIRE_EVERY
PIPE_EXPIRE_EVERY = 60.0
#: seconds a conversation's event stream outlives its last event (the database keeps all)
EVENTS_IDLE_TTL = 3600
#: how long a blocking stream read waits before looping (ms); bounds shutdown time
BLOCK_MS = 1000
#: tries of a blocking read on a lean connection that dropped (as redis-py's retries)
READ_ATTEMPTS = 4

_HEARTBEAT = """
local key, ttl_ms = KEYS[1], ARGV[1]
local new = redis.call('EXISTS', key) == 0
redis.call('HSET', key, 'url', ARGV[3], 'capacity', ARGV[4], 'cpu', ARGV[5], 'draining', ARGV[6])
if new then redis.call('HSET', key, 'load', ARGV[7]) end
redis.call('PEXPIRE', key, ttl_ms)
redis.call('SADD', KEYS[2], ARGV[2])
return new and 1 or 0
"""

_PLACE = """
-- least load/capacity first; then least load (nodes without a capacity); then id;
-- never one of ARGV[2..] (nodes found unreachable)
local best, best_ratio, best_load = false, 0, 0
local excluded = {}
for i = 2, #ARGV do excluded[ARGV[i]] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('HMGET', ARGV[1] .. id, 'capacity', 'load', 'draining')
  if excluded[id] then
    -- skipped
  elseif not v[1] then
    redis.call('SREM', KEYS[1], id)
  else
    local cap, load = tonumber(v[1]), tonumber(v[2] or '0')
    if v[3] ~= '1' and (cap == 0 or load < cap) then
      local ratio = 0
      if cap > 0 then ratio = load / cap end
      if (not best) or ratio < best_ratio or (ratio == best_ratio and (load < best_load
          or (load == best_load and id < best))) then
        best, best_ratio, best_load = id, ratio, load
      end
    end
  end
end
if best then redis.call('HINCRBY', ARGV[1] .. best, 'load', 1) end
return best
"""

_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], 'load', 1) end
return -1
"""

# Appends are refused whole (-1) when the stream's owner key names another node (a node
# took the conversation over: `mark_owner`); otherwise they stop at the first seq the
# stream already holds (a stale owner without a mark): nothing after it goes in. Returns
# the 1-based index of the refused event, 0 when all went in.
_APPEND = """
local key, owner_key, maxlen, ttl = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local owner = redis.call('GET', owner_key)
if owner and owner ~= ARGV[3] then return -1 end
for i = 4, #ARGV, 2 do
  local added = redis.pcall('XADD', key, 'MAXLEN', '~', maxlen, ARGV[i] .. '-0', 'd', ARGV[i + 1])
  if type(added) == 'table' and added.err then return (i - 2) / 2 end
end
redis.call('EXPIRE', key, ttl)
if owner then redis.call('EXPIRE', owner_key, ttl) end
return 0
"""

# The owner mark (`{after_seq}-*`: after that event, before the next) and the owner key,
# together: 0 when the stream holds events after `after_seq` (nothing done).
_MARK_OWNER = """
local key, owner_key = KEYS[1], KEYS[2]
local added = redis.pcall('XADD', key, 'MAXLEN', '~', ARGV[3], ARGV[1] .. '-*', 'o', ARGV[2])
if type(added) == 'table' and added.err then return 0 end
redis.call('SET', owner_key, ARGV[2], 'EX', ARGV[4])
redis.call('EXPIRE', key, ARGV[4])
return 1
"""

_RELEASE = """
local load = tonumber(redis.call('HGET', KEYS[1], 'load') or '0')
if load > 0 then redis.call('HINCRBY', KEYS[1], 'load', -1) end
return load
"""


def _node_key(node_id: str) -> str:
    return f"{PREFIX}node:{node_id}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCoordinator:
    def __init__(self, redis: Redis, writer: RespConnection | None = None) -> None:
        """`aclose` closes `redis` and `writer`: the node's connections, which its pipes
        and event streams share."""
        self._redis = redis
        self._writer = writer
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._place = redis.register_script(_PLACE)
        self._release = redis.register_script(_RELEASE)
        self._claim = redis.register_script(_CLAIM)

    async def heartbeat(self, node: NodeStatus, ttl: float) -> bool:
        new = await self._heartbeat(
            keys=[_node_key(node.node_id), NODES],
            args=[
                max(1, int(ttl * 1000)),
                node.node_id,
                node.url,
                node.capacity,
                f"{node.cpu:.3f}",
                int(node.draining),
                node.load,
            ],
        )
        return bool(new)

    async def nodes(self) -> list[NodeStatus]:
        found = []
        for raw_id in sorted(await self._redis.smembers(NODES)):
            node_id = _text(raw_id)
            fields = await self._redis.hgetall(_node_key(node_id))
            if not fields:
                continue
            f = {_text(k): _text(v) for k, v in fields.items()}
            found.append(
                NodeStatus(
                    node_id=node_id,
                    url=f.get("url", ""),
                    capacity=int(f.get("capacity", "0")),
                    load=int(f.get("load", "0")),
                    cpu=float(f.get("cpu", "0")),
                    draining=f.get("draining") == "1",
                )
            )
        return found

    async def place(self, exclude: Collection[str] = ()) -> str | None:
        chosen = await self._place(keys=[NODES], args=[f"{PREFIX}node:", *exclude])
        return _text(chosen) if chosen else None

    async def release(self, node_id: str) -> None:
        await self._release(keys=[_node_key(node_id)])

    async def claim(self, node_id: str) -> None:
        await self._claim(keys=[_node_key(node_id)])

    async def leave(self, node_id: str) -> None:
        await self._redis.delete(_node_key(node_id))
        await self._redis.srem(NODES, node_id)

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._writer.aclose()
        await self._redis.aclose()


class _RedisPipe:
    """One end: writes to `out`, reads `inbox` from the last id it saw."""

    def __init__(
        self,
        redis: Redis,
        inbox: str,
        out: str,
        now: Callable[[], float],
        writer: RespConnection | None = None,
    ) -> None:
        self._redis = redis
        self._writer = writer
        #: the blocking reads' own connection (lean when the writer is)
        self._reading = writer.another() if writer is not None else None
        self._inbox = inbox
        self._out = out
        self._now = now
        #: when `out`'s expiry was last renewed
        self._renewed = -math.inf
        self._last_id = "0-0"
        self._pending: list[bytes | PipeClosed] = []
        self._closed = False

    async def send(self, data: bytes) -> None:
        if self._closed:
            return
        if 0 <= self._now() - self._renewed < PIPE_EXPIRE_EVERY:  # (a clock set back renews)
            if self._writer is not None:
                await self._writer.send("XADD", self._out, "*", "d", data)
            else:
                await self._redis.xadd(self._out, {"d": data})
        else:
            await self._add({"d": data})

    async def receive(self) -> bytes | PipeClosed:
        while not self._pending:
            entries = await _xread(self._redis, self._reading, self._inbox, self._last_id, 64)
            for entry_id, fields in entries:
                self._last_id = _text(entry_id)
                if b"d" in fields:
                    self._pending.append(fields[b"d"])
                else:
                    code = int(_text(fields.get(b"c", b"1011")))
                    self._pending.append(PipeClosed(code, _text(fields.get(b"r", b""))))
        return self._pending.pop(0)

    async def close(self, code: int, reason: str) -> None:
        try:
            if not self._closed:
                await self._add({"c": code, "r": reason})
                self._closed = True
        finally:
            if self._reading is not None:
                await self._reading.aclose()

    async def _add(self, fields: dict[Any, Any]) -> None:
        """Add with the stream's expiry renewed."""
        renewed = self._now()
        if self._writer is not None:
            flat = [part for pair in fields.items() for part in pair]
            added = self._writer.send("XADD", self._out, "*", *flat)
            await asyncio.gather(added, self._writer.send("EXPIRE", self._out, PIPE_IDLE_TTL))
            self._renewed = renewed
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self._out, fields)
            pipe.expire(self._out, PIPE_IDLE_TTL)
            await pipe.execute()
        self._renewed = renewed


class RedisPipes:
    def __init__(
        self,
        redis: Redis,
        now: Callable[[], float] = time.monotonic,
        writer: RespConnection | None = None,
    ) -> None:
        """`now`: a clock in seconds (when to renew a pipe's expiry); `writer`: the
        connection messages are sent on (else redis-py's)."""
        self._redis = redis
        self._now = now
        self._writer = writer

    async def open(self, owner_node_id: str, request: PipeOpen) -> _RedisPipe:
        body = json.dumps(
            {
                "pipe_id": request.pipe_id,
                "conversation_id": request.conversation_id,
                "credential": request.credential,
                "last_seq": request.last_seq,
                "stream_events": request.stream_events,
            }
        )
        inbox = f"{PREFIX}inbox:{owner_node_id}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(inbox, {"open": body}, maxlen=10_000, approximate=True)
            pipe.expire(inbox, PIPE_IDLE_TTL)
            await pipe.execute()
        base = f"{PREFIX}pipe:{request.pipe_id}"
        return _RedisPipe(
            self._redis, f"{base}:to-relay", f"{base}:to-owner", self._now, self._writer
        )

    async def accept(
        self, node_id: str, ready: Callable[[], None] = lambda: None
    ) -> AsyncIterator[PipeOpen]:
        inbox = f"{PREFIX}inbox:{node_id}"
        # opens made before this node started are stale (their relay gave up): start
        # after the newest entry, by id, so that nothing between two reads is missed
        newest: Any = await self._redis.xrevrange(inbox, count=1)
        last_id = _text(newest[0][0]) if newest else "0-0"
        ready()
        while True:
            answer: Any = await self._redis.xread({inbox: last_id}, count=64, block=BLOCK_MS)
            raise_if_cancelled()
            for _stream, entries in answer or []:
                for entry_id, fields in entries:
                    last_id = _text(entry_id)
                    body = json.loads(fields[b"open"])
                    yield PipeOpen(
                        pipe_id=body["pipe_id"],
                        conversation_id=body["conversation_id"],
                        credential=body["credential"],
                        last_seq=body["last_seq"],
                        stream_events=bool(body.get("stream_events", False)),
                    )

    def attach(self, request: PipeOpen) -> _RedisPipe:
        base = f"{PREFIX}pipe:{request.pipe_id}"
        return _RedisPipe(
            self._redis, f"{base}:to-owner", f"{base}:to-relay", self._now, self._writer
        )


class RedisEventStreams:
    def __init__(
        self,
        redis: Redis,
        retained: int = 10_000,
        writer: RespConnection | None = None,
        node_id: str = "",
    ) -> None:
        """`writer`: the connection appends are sent on (else redis-py's, one append
        after the other); `node_id`: this node's (its appends are refused once another
        node is the conversation's owner: `mark_owner`, `claim`)."""
        self._redis = redis
        self._retained = retained
        self._writer = writer
        self._node_id = node_id
        self._append = redis.register_script(_APPEND)
        self._mark_owner = redis.register_script(_MARK_OWNER)
        self._append_sha = writer.register_script(_APPEND) if writer is not None else ""
        self._in_order = asyncio.Lock()

    @property
    def pipelined(self) -> bool:
        """Appends may be kept in flight together (server/event_stream.py): they are
        answered in the order sent and a dropped connection fails every one unanswered
        (the lean connection). False on redis-py's path (one after the other)."""
        return self._writer is not None

    def append(self, conversation_id: str, events: Sequence[Entry]) -> Awaitable[None]:
        """Sent when called (with a writer: on its socket before this returns), in
        order with the appends made before; the future raises `NotOwner` when another
        node owns the conversation (nothing added), `StaleAppend` when the stream
        already holds an event's seq (those before it added)."""
        args: list[Any] = [self._retained, EVENTS_IDLE_TTL, self._node_id]
        for seq, data in events:
            args += [seq, data]
        key = _events_key(conversation_id)
        keys = (key, _owner_key(conversation_id))

        def check(refused: Any) -> None:
            if int(refused) < 0:
                raise NotOwner(f"{conversation_id}: another node owns it now")
            if int(refused):
                seq = events[int(refused) - 1][0]
                raise StaleAppend(f"{conversation_id}: the stream already holds seq {seq}")

        if not events:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        if self._writer is not None:
            sent: Awaitable[None] = self._writer.send(
                "EVALSHA", self._append_sha, 2, *keys, *args, check=check
            )
            return sent
        return asyncio.ensure_future(self._append_in_order(list(keys), args, check))

    async def _append_in_order(
        self, keys: list[str], args: list[Any], check: Callable[[Any], None]
    ) -> None:
        async with self._in_order:  # FIFO: in the order `append` was called
            check(await self._append(keys=keys, args=args))

    async def read(self, conversation_id: str, after_seq: int = 0) -> list[Entry]:
        found: Any = await self._redis.xrange(_events_key(conversation_id), f"{after_seq + 1}-0")
        return [(_seq(entry_id), fields[b"d"]) for entry_id, fields in found if b"d" in fields]

    async def mark_owner(self, conversation_id: str, after_seq: int, node_id: str) -> None:
        keys = [_events_key(conversation_id), _owner_key(conversation_id)]
        args: list[str | int] = [after_seq, node_id, self._retained, EVENTS_IDLE_TTL]
        if not await self._mark_owner(keys=keys, args=args):
            raise StaleAppend(f"{conversation_id}: events after {after_seq} exist")

    async def claim(self, conversation_id: str) -> None:
        """This node owns the conversation from now on, before its first append (a node
        that moved it here and fills or ends its stream before marking itself owner):
        appends from the node it was taken from are refused."""
        await self._redis.set(_owner_key(conversation_id), self._node_id, ex=EVENTS_IDLE_TTL)

    async def newest(self, conversation_id: str) -> int:
        found: Any = await self._redis.xrevrange(_events_key(conversation_id), count=1)
        return _seq(found[0][0]) if found else 0

    async def follow(
        self, conversation_id: str, after_seq: int
    ) -> AsyncIterator[list[Entry | OwnerChanged]]:
        key = _events_key(conversation_id)
        last_id = f"{after_seq}-0"
        reading = self._writer.another() if self._writer is not None else None
        try:
            while True:
                entries = await _xread(self._redis, reading, key, last_id, 256)
                if entries:
                    last_id = _text(entries[-1][0])
                    yield [_entry(entry_id, fields) for entry_id, fields in entries]
        finally:
            if reading is not None:
                await reading.aclose()


async def _xread(
    redis: Redis, lean: RespConnection | None, key: str, last_id: str, count: int
) -> list[tuple[Any, dict[bytes, bytes]]]:
    """One blocking read of `key` after `last_id` (at most BLOCK_MS): its entries."""
    if lean is None:
        answer: Any = await redis.xread({key: last_id}, count=count, block=BLOCK_MS)
        raise_if_cancelled()
        return [entry for _stream, entries in answer or [] for entry in entries]
    for attempt in range(READ_ATTEMPTS):
        try:
            command = ("XREAD", "COUNT", count, "BLOCK", BLOCK_MS, "STREAMS", key, last_id)
            answer = await lean.send(*command)
            break
        except asyncio.CancelledError:
            lean.reset()  # its answer would still come on this connection
            raise
        except ConnectionError:
            if attempt == READ_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    return [
        (entry_id, dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {})
        for _stream, entries in answer or []
        for entry_id, flat in entries
    ]


def _events_key(conversation_id: str) -> str:
    return f"{PREFIX}events:{conversation_id}"


def _owner_key(conversation_id: str) -> str:
    return f"{PREFIX}events:{conversation_id}:owner"


def _entry(entry_id: Any, fields: dict[bytes, bytes]) -> Entry | OwnerChanged:
    if b"d" in fields:
        return (_seq(entry_id), fields[b"d"])
    return OwnerChanged(_seq(entry_id), _text(fields[b"o"]))


def _seq(entry_id: Any) -> int:
    return int(_text(entry_id).split("-", 1)[0])
