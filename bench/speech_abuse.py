"""Hostile speech requests (issue #11 items 1-4) against a real `openreplica serve`.

For each attack, on a fresh server process and conversation, while a second
conversation's REST resource is polled every 10 ms: the server's peak RSS growth (from
/proc/<pid>/status, sampled every 20 ms), the REST latency of that unrelated conversation
(median, p99, worst), what the attacker was answered, and whether the conversation still
speaks afterwards.

Attacks:
- `odd_rate`: an audio echo with `sample_rate: 1` (20,000 samples, 53 KB)
- `big_audio`: one ~1 MiB audio echo at 16 kHz (24 s of audio: resampled to 24 kHz)
- `pairs`: 2,000 back-to-back echo + interrupt pairs
- `mega_text`: a 1,000,000-character echo text
- `long_text`: the longest text allowed (10,000 characters, no sentence end)
- `audio_flood`: 1 s chunks of one `inference_id` at 12.5/s for 8 s (100 s of audio)

The server runs with `--testing-scripted-plugins` (a tone TTS, no models) unless `--piper`
is given (the default Piper voice). PYTHONPATH picks the code measured, e.g. an older
checkout's `src` for a before/after comparison.

Run: .venv/bin/python bench/speech_abuse.py [--attacks pairs,mega_text] [--piper]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

MB = 1024 * 1024
Msg = dict[str, Any]


# The server process the integration tests use: one launcher for both.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from server_process import ServerProcess  # noqa: E402  (after the path is set)


class Server:
    def __init__(self, data_dir: Path, piper: bool) -> None:
        env = {
            "OPENREPLICA_RATE_LIMIT": "1000000",
            "OPENREPLICA_RATE_BURST": "1000000",
            "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "0" if piper else "1",
        }
        self._server = ServerProcess(data_dir, env=env, ready_timeout=60.0)
        self._server.start()
        assert self._server.process is not None
        self.process = self._server.process
        self.port = self._server.port
        self.url = self._server.url

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def rss(self) -> int:
        with suppress(FileNotFoundError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def conversation(self) -> str:
        response = httpx.post(self.url + "/v2/conversations", json={}, timeout=30)
        response.raise_for_status()
        cid: str = response.json()["conversation_id"]
        return cid

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Peer:
    ws: ClientConnection
    received: list[Msg] = field(default_factory=list)

    async def read(self) -> None:
        with suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.received.append(json.loads(raw))

    async def send(self, message: Msg) -> None:
        await self.ws.send(json.dumps(message))

    async def until(self, match: Callable[[Msg], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(match(m) for m in self.received):
                return True
            await asyncio.sleep(0.01)
        return False

    def error_codes(self) -> dict[str, int]:
        codes: dict[str, int] = {}
        for m in self.received:
            if m["event_type"] == "system.error":
                code = m["properties"]["code"]
                codes[code] = codes.get(code, 0) + 1
        return codes


def _echo_text(text: str, **props: Any) -> Msg:
    return {"event_type": "conversation.echo", "properties": {"text": text, **props}}


def _echo_audio(pcm: bytes, rate: int, **props: Any) -> Msg:
    audio = base64.b64encode(pcm).decode()
    return {
        "event_type": "conversation.echo",
        "properties": {"modality": "audio", "audio": audio, "sample_rate": rate, **props},
    }


INTERRUPT: Msg = {"event_type": "conversation.interrupt"}
MARKER: Msg = {"event_type": "bench.marker"}  # its error reply means all before it is done


def _marker_back(m: Msg) -> bool:
    code = m.get("properties", {}).get("code")
    return isinstance(code, str) and code == "unknown_event_type"


async def odd_rate(peer: Peer) -> None:
    await peer.send(_echo_audio(b"\x00\x10" * 20_000, 1))


async def big_audio(peer: Peer) -> None:
    await peer.send(_echo_audio(b"\x00\x10" * 393_000, 16000, inference_id="big"))


async def pairs(peer: Peer) -> None:
    for i in range(2000):
        await peer.send(_echo_text(f"Pair {i} goes here."))
        await peer.send(INTERRUPT)


async def mega_text(peer: Peer) -> None:
    await peer.send(_echo_text("word " * 200_000, inference_id="mega"))


async def long_text(peer: Peer) -> None:
    await peer.send(_echo_text(("spoken " * 1429)[:10_000], inference_id="long"))


async def audio_flood(peer: Peer) -> None:
    second = b"\x10\x00" * 16000
    for _ in range(100):
        await peer.send(_echo_audio(second, 16000, inference_id="flood", done=False))
        await asyncio.sleep(0.08)


ATTACKS: dict[str, Callable[[Peer], Awaitable[None]]] = {
    "odd_rate": odd_rate,
    "big_audio": big_audio,
    "pairs": pairs,
    "mega_text": mega_text,
    "long_text": long_text,
    "audio_flood": audio_flood,
}


async def _probe(url: str, latencies: list[float], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            start = time.perf_counter()
            with suppress(httpx.HTTPError):
                await client.get(url)
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)


async def _sample_rss(server: Server, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], server.rss())
        await asyncio.sleep(0.02)


async def run_attack(server: Server, name: str, hold: float) -> dict[str, Any]:
    other = server.conversation()
    cid = server.conversation()
    url = f"ws://127.0.0.1:{server.port}/v2/conversations/{cid}/ws"
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        peer = Peer(ws)
        reader = asyncio.create_task(peer.read())
        await peer.until(lambda m: m["event_type"] == "system.replica_joined", 30)
        before = server.rss()
        peak = [before]
        latencies: list[float] = []
        stop = asyncio.Event()
        watchers = [
            asyncio.create_task(_probe(f"{server.url}/v2/conversations/{other}", latencies, stop)),
            asyncio.create_task(_sample_rss(server, peak, stop)),
        ]
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        handled = works = False
        elapsed = 0.0
        try:
            await ATTACKS[name](peer)
            await peer.send(MARKER)
            handled = await peer.until(_marker_back, 120)
            elapsed = time.perf_counter() - started
            await asyncio.sleep(hold)  # let queued speech run a while: memory may grow later
        except websockets.ConnectionClosed:
            pass  # the server dropped the connection (or died): reported below
        stop.set()
        await asyncio.gather(*watchers)
        with suppress(websockets.ConnectionClosed):
            await peer.send(INTERRUPT)
            await peer.send(_echo_text("Still here.", inference_id="after"))
            works = await peer.until(
                lambda m: (
                    m["event_type"] == "conversation.replica.started_speaking"
                    and m.get("inference_id") == "after"
                ),
                30,
            )
        reader.cancel()
    ordered = sorted(latencies)
    return {
        "attack": name,
        "handled_s": round(elapsed, 2) if handled else None,
        "rss_before_mb": round(before / MB),
        "rss_peak_growth_mb": round((peak[0] - before) / MB, 1),
        "rest_median_ms": round(statistics.median(ordered) * 1000, 1),
        "rest_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
        "rest_worst_ms": round(ordered[-1] * 1000, 1),
        "errors": {k: v for k, v in peer.error_codes().items() if k != "unknown_event_type"},
        "conversation_works_after": works,
        "server_alive": server.alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--piper", action="store_true", help="real Piper TTS, not the tone")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds watched after each")
    args = parser.parse_args()
    for name in args.attacks.split(","):
        # a fresh server each time: RSS never shrinks, so a previous attack's freed
        # memory would hide the next one's growth
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp) / "data", args.piper)
            try:
                result = asyncio.run(run_attack(server, name, args.hold))
                print(json.dumps(result))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
