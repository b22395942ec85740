"""Interactions sent while a drained node hands its conversation over (between its halt
and the new owner running it) are not lost: a relayed client's are handled by the new
owner, each exactly once (the relay sends again what the old owner did not acknowledge;
the new owner skips what the old one handled: server/relay_resend.py); a client connected
to the draining node gets each of its later ones refused (`system.error`
`conversation_moving`) before the 1012 close, or never read (the one in flight at the
close), never handled and never silently dropped. Three real node processes, real
Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from cluster_nodes import KEY
from db_servers import PostgresServer, RedisServer
from eventually import eventually
from websockets.asyncio.client import ClientConnection

from .test_drain import STOPPED
from .test_takeover import Cluster, _long_lived, three_nodes

Msg = dict[str, Any]

#: the clients below send as fast as they are answered: above the default rate limits
FAST = {
    "OPENREPLICA_RATE_LIMIT": "500",
    "OPENREPLICA_RATE_BURST": "1000",
    "OPENREPLICA_CONVERSATION_RATE_LIMIT": "1000",
    "OPENREPLICA_CONVERSATION_RATE_BURST": "2000",
}
#: seconds between two checks of a client for its answer: paces each client at about
#: 1/PACE interactions a second
PACE = 0.03


@pytest.fixture
def cluster(
    tmp_path: Path, redis_server: RedisServer, postgres: PostgresServer
) -> Iterator[Cluster]:
    with three_nodes(tmp_path, redis_server, postgres, **FAST) as nodes:
        yield nodes


def _respond(text: str) -> str:
    return json.dumps(
        {
            "message_type": "conversation",
            "event_type": "conversation.respond",
            "properties": {"text": text},
        }
    )


def _user_said(events: list[Msg]) -> list[str]:
    return [
        e["properties"]["speech"]
        for e in events
        if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "user"
    ]


class Talker:
    """One socket sending `conversation.respond`s (`{prefix}{n}`) one after another, with
    at most `window` of them not answered yet (answered: its user utterance came back,
    or it was refused)."""

    def __init__(self, ws: ClientConnection, prefix: str, window: int) -> None:
        self.ws = ws
        self.prefix = prefix
        self.window = window
        self.sent: list[str] = []
        self.got: list[Msg] = []
        self.closed = asyncio.Event()

    def refused(self) -> int:
        return sum(
            1
            for m in self.got
            if m["event_type"] == "system.error"
            and m["properties"]["code"] == "conversation_moving"
        )

    def errors(self) -> list[Msg]:
        return [m for m in self.got if m["event_type"] == "system.error"]

    def answered(self, text: str) -> bool:
        return text in _user_said(self.got)

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.got.append(json.loads(raw))
        self.closed.set()

    async def talk(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.closed.is_set():
            text = f"{self.prefix}{len(self.sent)}"
            refused = self.refused()
            try:
                await self.ws.send(_respond(text))
            except websockets.ConnectionClosed:
                return
            self.sent.append(text)
            if len(self.sent) < self.window:
                continue
            await self._settled(self.sent[-self.window], refused)

    async def _settled(self, text: str, refused: int) -> None:
        """Wait until `text` is answered, or refused (a refusal after `refused` ones)."""
        await eventually(
            lambda: self.answered(text) or self.refused() > refused or self.closed.is_set(),
            timeout=20,
            interval=PACE,
            message=f"{text} answered or refused",
        )

    async def answers(self, count: int) -> None:
        """Wait until `count` more of what it sends are answered."""
        upto = len(self.sent) + count
        await eventually(
            lambda: len(self.sent) >= upto and self.answered(self.sent[upto - 1]),
            timeout=20,
            message=f"{self.prefix}: {count} more answered",
        )


async def test_interactions_sent_during_a_drains_move_are_handled_once_or_refused(
    cluster: Cluster,
) -> None:
    cid, owner, relay = _long_lived(cluster)
    draining = cluster.by_id(owner)
    stop = asyncio.Event()
    async with (
        websockets.connect(relay.ws_url(cid, last_seq=0), additional_headers=KEY) as r_ws,
        websockets.connect(draining.ws_url(cid, last_seq=0), additional_headers=KEY) as d_ws,
    ):
        relayed = Talker(r_ws, "relayed ", window=2)  # pipelined: two in flight
        direct = Talker(d_ws, "direct ", window=1)
        readers = [asyncio.create_task(t.read()) for t in (relayed, direct)]
        talkers = [asyncio.create_task(t.talk(stop)) for t in (relayed, direct)]
        await relayed.answers(5)
        await direct.answers(5)
        stopping = asyncio.create_task(asyncio.to_thread(draining.stop, signal.SIGTERM))
        await eventually(direct.closed.is_set, timeout=20, message="the direct socket closed")
        await stopping
        assert draining.process is not None
        assert draining.process.returncode in STOPPED, draining.output()[-3000:]
        await relayed.answers(5)  # the new owner answers the relayed client
        stop.set()
        await asyncio.gather(*talkers)
        await eventually(
            lambda: all(relayed.answered(t) for t in relayed.sent),
            timeout=20,
            message="every relayed interaction answered",
        )
        await r_ws.close()
        await asyncio.gather(*readers)

    record = relay.get(f"/v2/conversations/{cid}?verbose=true", headers=KEY)
    assert record["status"] == "active" and record["node_id"] != owner
    stored = Counter(_user_said(record["events"]))

    # relayed: every one handled exactly once, none refused, the client saw each once
    assert relayed.errors() == []
    assert [t for t in relayed.sent if stored[t] != 1] == []
    mine = [t for t in _user_said(relayed.got) if t.startswith(relayed.prefix)]
    assert mine == relayed.sent
    seqs = [m["seq"] for m in relayed.got if "seq" in m]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert relayed.got == record["events"][: len(relayed.got)]
    # some were sent into the move and went again to the new owner
    again = re.findall(rf"{cid}: sent \S+ again (\d+) unacknowledged", relay.output())
    assert again and int(again[-1]) >= 1, relay.output()[-3000:]

    # direct: handled ones exactly once, then only refusals (and the one in flight at
    # the close, never read): nothing handled after a refusal, nothing dropped unsaid
    assert d_ws.close_code == 1012
    assert [m for m in direct.errors() if m["properties"]["code"] != "conversation_moving"] == []
    handled = [t for t in direct.sent if stored[t]]
    assert all(stored[t] == 1 for t in handled)
    assert handled == direct.sent[: len(handled)]
    unhandled = len(direct.sent) - len(handled)
    refused = direct.refused()
    assert refused >= 1, "no direct interaction fell into the move"
    assert unhandled in (refused, refused + 1), (direct.sent, handled, refused)
    mine = [t for t in _user_said(direct.got) if t.startswith(direct.prefix)]
    assert mine == handled  # each handled one reached the client
    seqs = [m["seq"] for m in direct.got if "seq" in m]
    assert seqs == list(range(1, len(seqs) + 1))
