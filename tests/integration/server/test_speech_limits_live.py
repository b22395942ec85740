"""Hostile speech requests against a real server process (issue #11 items 1-4, SPEC §2.6):
memory is read from /proc/<pid>/status while the attack runs, and the conversation must
keep working afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from .conftest import ServerProcess

Msg = dict[str, Any]
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Default message and speech limits; the rate limit out of the way so that the
    speech limits are what the client meets."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("speech-limits") / "data",
        env={
            "OPENREPLICA_RATE_LIMIT": "100000",
            "OPENREPLICA_RATE_BURST": "100000",
            "OPENREPLICA_CONVERSATION_RATE_LIMIT": "100000",
            "OPENREPLICA_CONVERSATION_RATE_BURST": "100000",
        },
    )
    proc.start()
    yield proc
    proc.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


class Peer:
    """A WebSocket participant that reads everything the server sends, in the background."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Msg] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.received.append(json.loads(raw))
                self._arrived.set()

    async def aclose(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def send(self, message: Msg) -> None:
        await self.ws.send(json.dumps(message))

    async def wait_for(self, match: Callable[[Msg], bool], timeout: float = 20.0) -> Msg:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.received:
                    if match(message):
                        return message
                self._arrived.clear()
                await self._arrived.wait()

    def errors(self) -> list[Msg]:
        return [m for m in self.received if m["event_type"] == "system.error"]


@asynccontextmanager
async def joined(server: ServerProcess) -> AsyncIterator[Peer]:
    cid = server.conversation()
    async with websockets.connect(server.ws_url(cid), max_size=None) as ws:
        peer = Peer(ws)
        try:
            await peer.wait_for(lambda m: m["event_type"] == "system.replica_joined")
            yield peer
        finally:
            await peer.aclose()


def echo_text(text: str, **props: Any) -> Msg:
    return {"event_type": "conversation.echo", "properties": {"text": text, **props}}


def echo_audio(pcm: bytes, rate: int, **props: Any) -> Msg:
    audio = base64.b64encode(pcm).decode()
    return {
        "event_type": "conversation.echo",
        "properties": {"modality": "audio", "audio": audio, "sample_rate": rate, **props},
    }


INTERRUPT: Msg = {"event_type": "conversation.interrupt"}


def of_inference(name: str, inference_id: str) -> Callable[[Msg], bool]:
    return lambda m: m["event_type"] == name and m.get("inference_id") == inference_id


async def still_speaks(peer: Peer, inference_id: str) -> None:
    """The conversation works: a short echo is spoken to its end."""
    await peer.send(echo_text("Still here.", inference_id=inference_id))
    stopped = await peer.wait_for(
        of_inference("conversation.replica.stopped_speaking", inference_id)
    )
    assert stopped["properties"]["interrupted"] is False


# ---------------------------------------------------------------------------- item 1


async def test_echo_audio_at_an_odd_sample_rate_is_refused_naming_the_allowed_set(
    server: ServerProcess,
) -> None:
    async with joined(server) as peer:
        await peer.send(echo_audio(b"\x00\x01" * 20_000, 1))
        error = await peer.wait_for(lambda m: m["event_type"] == "system.error")
        assert error["properties"]["code"] == "invalid_properties"
        assert "sample_rate" in error["properties"]["message"]
        assert "8000, 11025" in error["properties"]["message"]
        await still_speaks(peer, "after-rate")
        assert len(peer.errors()) == 1


# ---------------------------------------------------------------------------- item 2


async def test_echo_and_interrupt_pairs_leave_memory_flat(server: ServerProcess) -> None:
    assert server.process is not None
    pid = server.process.pid

    async def pairs(peer: Peer, count: int, marker: str) -> None:
        for i in range(count):
            await peer.send(echo_text(f"Pair {i} goes here."))
            await peer.send(INTERRUPT)
        # every pair has been handled once the marker speaks
        await peer.send(echo_text("Marker.", inference_id=marker))
        await peer.wait_for(of_inference("conversation.replica.started_speaking", marker))
        await peer.send(INTERRUPT)

    async with joined(server) as peer:
        await pairs(peer, 300, "warm")  # allocator warm-up
        before = rss_bytes(pid)
        await pairs(peer, 1000, "measured")
        grown = rss_bytes(pid) - before
        print(f"RSS growth over 1,000 echo+interrupt pairs: {grown / MB:.1f} MB")
        assert grown < 8 * MB, f"memory grew {grown / MB:.1f} MB over 1,000 pairs"
        assert not peer.errors()
        await still_speaks(peer, "after-pairs")


# ---------------------------------------------------------------------------- item 3


async def test_a_megabyte_echo_text_is_refused_and_a_long_one_is_spoken_in_bounded_memory(
    server: ServerProcess,
) -> None:
    assert server.process is not None
    pid = server.process.pid
    async with joined(server) as peer:
        before = rss_bytes(pid)
        huge = "word " * 200_000  # 1,000,000 characters, within the 1 MiB message limit
        await peer.send(echo_text(huge, inference_id="huge"))
        error = await peer.wait_for(lambda m: m["event_type"] == "system.error")
        assert error["properties"]["code"] == "invalid_properties"
        assert "10000 characters" in error["properties"]["message"]
        assert error["properties"]["event_type"] == "conversation.echo"
        # the longest text allowed, as one run with no sentence end: split and paced
        longest = ("spoken " * 1429)[:10_000]
        await peer.send(echo_text(longest, inference_id="long"))
        await peer.wait_for(of_inference("conversation.replica.started_speaking", "long"))
        await peer.wait_for(
            lambda m: (
                m["event_type"] == "conversation.utterance.streaming"
                and m.get("inference_id") == "long"
                and m["properties"]["content_index"] >= 5
            )
        )
        grown = rss_bytes(pid) - before
        assert grown < 50 * MB, f"memory grew {grown / MB:.1f} MB"
        await peer.send(INTERRUPT)
        stopped = await peer.wait_for(of_inference("conversation.replica.stopped_speaking", "long"))
        assert stopped["properties"]["interrupted"] is True
        await still_speaks(peer, "after-long")
        assert len(peer.errors()) == 1


# ---------------------------------------------------------------------------- item 4


async def test_echoed_audio_far_faster_than_real_time_is_bounded(server: ServerProcess) -> None:
    assert server.process is not None
    pid = server.process.pid
    second = b"\x10\x00" * 16000  # one second at 16 kHz
    async with joined(server) as peer:
        before = rss_bytes(pid)
        for _ in range(80):  # 80 s of audio sent in a moment
            await peer.send(echo_audio(second, 16000, inference_id="flood", done=False))
        # replies come in order: once this one's error is back, every chunk was handled
        await peer.send({"event_type": "conversation.marker"})
        await peer.wait_for(lambda m: m.get("properties", {}).get("code") == "unknown_event_type")
        refused = [e for e in peer.errors() if e["properties"]["code"] == "audio_buffer_full"]
        # 30 chunks fit the 30 s bound (a little more, as some audio played meanwhile)
        assert 80 - 34 <= len(refused) <= 80 - 30
        assert len(peer.errors()) == len(refused) + 1
        grown = rss_bytes(pid) - before
        assert grown < 30 * MB, f"memory grew {grown / MB:.1f} MB"
        await peer.send(INTERRUPT)
        await peer.wait_for(of_inference("conversation.replica.stopped_speaking", "flood"))
        await still_speaks(peer, "after-flood")
