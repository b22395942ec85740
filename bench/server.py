"""Server benchmark over loopback WebSockets, against a real `openreplica serve` process.

The server runs with `--testing-scripted-plugins` (an instant tone TTS and an echoing
LLM), so model time is zero and what is measured is the server: decode, engine, sequencer,
fan-out, the WebSocket stack and the event loop. The client runs in this process.

1. Latency: interaction sent → first event it causes received, on one connection:
   - `conversation.echo` (echo persona) → `conversation.replica.started_speaking`
   - `conversation.interrupt` → the cut-off utterance's final `utterance.streaming`
   - `conversation.respond` (full persona) → the user's `conversation.utterance`
     (the replica's reply has started each time, so the respond first cuts it)
2. Fan-out: N connections (1, 10, 100) to one conversation; one of them drives it with
   back-to-back `conversation.respond`s (each cuts the reply before it short); events
   per second delivered in total across all N connections (each receives every event).

Run: .venv/bin/python bench/server.py [--rounds 1000] [--seconds 3] [--runs 3]

`--observability` measures the latencies (1.) on two servers in the same run, in
alternating blocks: one with metrics and traces off, one with Prometheus metrics on and
per-turn traces exported over OTLP/HTTP to a receiver in this process; it prints both
and the p95 change, then each server's scrape of /metrics size (no fan-out).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import websockets
from percentiles import percentile
from websockets.asyncio.client import ClientConnection

CONNECT = {"compression": None, "max_size": None, "ping_interval": None}
FRAME = 0.025
IN_FLIGHT = 8
WINDOW = 2000


# The server process the integration tests use: one launcher for both.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from server_process import ServerProcess  # noqa: E402  (after the path is set)


class Server:
    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        env = {
            "OPENREPLICA_RATE_LIMIT": "1000000",
            "OPENREPLICA_RATE_BURST": "1000000",
            "OPENREPLICA_CONVERSATION_RATE_LIMIT": "1000000",
            "OPENREPLICA_CONVERSATION_RATE_BURST": "1000000",
            **(extra_env or {}),
        }
        self._server = ServerProcess(data_dir, env=env)
        self._server.start()
        self.port = self._server.port
        self.url = self._server.url

    @property
    def pid(self) -> int:
        assert self._server.process is not None
        return self._server.process.pid

    def conversation(self, pipeline_mode: str) -> str:
        persona = httpx.post(self.url + "/v2/personas", json={"pipeline_mode": pipeline_mode})
        conv = httpx.post(
            self.url + "/v2/conversations",
            json={
                "persona_id": persona.json()["persona_id"],
                "properties": {"max_call_duration": 86400},
            },
        )
        cid: str = conv.json()["conversation_id"]
        return cid

    def ws(self, cid: str) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/conversations/{cid}/ws"

    def stop(self) -> None:
        self._server.stop()


class Props(msgspec.Struct):
    role: str | None = None
    final: bool | None = None


class Event(msgspec.Struct):
    event_type: str
    seq: int | None = None
    turn_idx: int | None = None
    properties: Props | None = None

    def is_(self, event_type: str, role: str | None = None, final: bool | None = None) -> bool:
        if self.event_type != event_type:
            return False
        props = self.properties or Props()
        return (role is None or props.role == role) and (final is None or props.final == final)


_decode = msgspec.json.Decoder(Event).decode
Match = Callable[[Event], bool]


def _echo(text: str, inference_id: str) -> bytes:
    return msgspec.json.encode(
        {
            "message_type": "conversation",
            "event_type": "conversation.echo",
            "properties": {"text": text, "inference_id": inference_id},
        }
    )


INTERRUPT = b'{"message_type":"conversation","event_type":"conversation.interrupt"}'


def _respond(text: str) -> bytes:
    return msgspec.json.encode({"event_type": "conversation.respond", "properties": {"text": text}})


async def _until(ws: ClientConnection, event_type: str) -> Event:
    while True:
        event = _decode(await ws.recv(decode=False))
        if event.event_type == event_type:
            return event


def _ms(samples: list[float]) -> str:
    p50, p90, p99 = (percentile(samples, q) * 1e3 for q in (50, 90, 99))
    return f"p50 {p50:6.3f}  p90 {p90:6.3f}  p99 {p99:6.3f}"


async def _timed(ws: ClientConnection, message: bytes, first: Match, until: str) -> float:
    """Send; time until the first event the interaction causes; read on to `until`."""
    sent = time.perf_counter()
    await ws.send(message, text=True)
    while not first(_decode(await ws.recv(decode=False))):
        pass
    elapsed = time.perf_counter() - sent
    await _until(ws, until)
    return elapsed


async def latency(server: Server, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"echo": [], "interrupt": [], "respond": []}
    started: Match = lambda e: e.is_("conversation.replica.started_speaking")  # noqa: E731
    cut: Match = lambda e: e.is_("conversation.utterance.streaming", final=True)  # noqa: E731
    user: Match = lambda e: e.is_("conversation.utterance", role="user")  # noqa: E731
    async with websockets.connect(server.ws(server.conversation("echo")), **CONNECT) as ws:
        await _until(ws, "system.replica_joined")
        for i in range(rounds):
            echo = _echo("hello there", f"e{i}")
            out["echo"].append(await _timed(ws, echo, started, "conversation.started_speaking"))
            out["interrupt"].append(
                await _timed(ws, INTERRUPT, cut, "conversation.stopped_speaking")
            )
            # let the 20 ms audio frame being played out end: the next echo then starts
            # at once instead of after the frame (that wait is media time, not latency)
            await asyncio.sleep(FRAME)
    async with websockets.connect(server.ws(server.conversation("full")), **CONNECT) as ws:
        await _until(ws, "system.replica_joined")
        for i in range(rounds):
            respond = _respond(f"question {i}")
            out["respond"].append(
                await _timed(ws, respond, user, "conversation.replica.started_speaking")
            )
    return out


@dataclass
class Receiver:
    ws: ClientConnection
    count: int = 0
    last_seq: int = 0
    turn: int = 0
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        try:
            async for message in self.ws:
                event = _decode(message)
                self.count += 1
                if event.seq is not None:
                    self.last_seq = event.seq
                if event.turn_idx is not None:
                    self.turn = max(self.turn, event.turn_idx)
                self.moved.set()
        except websockets.ConnectionClosed:
            pass


async def fan_out(server: Server, connections: int, seconds: float) -> tuple[float, int]:
    """One driver sends `conversation.respond` back to back (each cuts the reply before);
    every connection counts what it receives. The driver keeps at most `IN_FLIGHT`
    responds unanswered and the slowest connection within `WINDOW` events of it."""
    cid = server.conversation("full")
    sockets = [
        await websockets.connect(server.ws(cid) + "?last_seq=0", **CONNECT)
        for _ in range(connections)
    ]
    receivers = [Receiver(ws) for ws in sockets]
    tasks = [asyncio.create_task(r.run()) for r in receivers]
    driver = receivers[0]
    while min(r.last_seq for r in receivers) < 1:  # everyone saw the replica join
        await asyncio.sleep(0.01)
    start_counts = sum(r.count for r in receivers)
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < seconds:
        while sent - driver.turn >= IN_FLIGHT:
            driver.moved.clear()
            await driver.moved.wait()
        while driver.last_seq - min(r.last_seq for r in receivers) > WINDOW:
            await asyncio.sleep(0.0005)
        await driver.ws.send(_respond(f"q{sent}"), text=True)
        sent += 1
    while driver.turn < sent:
        driver.moved.clear()
        await driver.moved.wait()
    target = driver.last_seq
    while min(r.last_seq for r in receivers) < target:
        await asyncio.sleep(0.0005)
    elapsed = time.perf_counter() - started
    delivered = sum(r.count for r in receivers) - start_counts
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    return delivered / elapsed, delivered


def _p95(samples: list[float]) -> float:
    return percentile(samples, 95)


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that accepts and drops every export."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def compare_observability(args: argparse.Namespace) -> None:
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    modes = {
        "off": {"OPENREPLICA_METRICS": "false", "OPENREPLICA_TRACES": "off"},
        "on": {"OPENREPLICA_TRACES": "otlp", "OPENREPLICA_OTLP_ENDPOINT": endpoint},
    }
    with tempfile.TemporaryDirectory() as tmp:
        servers = {name: Server(Path(tmp) / name, env) for name, env in modes.items()}
        try:
            samples: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
            blocks = 5
            for _ in range(blocks):  # alternate, so both see the same machine load
                for name, server in servers.items():
                    for kind, values in (await latency(server, args.rounds // blocks)).items():
                        samples[name].setdefault(kind, []).extend(values)
            print("latency with observability off vs on (metrics + OTLP traces), ms")
            for kind in samples["off"]:
                for name in servers:
                    print(
                        f"  {kind:10s} [{name:3s}] {_ms(samples[name][kind])}"
                        f"  p95 {_p95(samples[name][kind]) * 1e3:6.3f}"
                    )
                off, on = _p95(samples["off"][kind]), _p95(samples["on"][kind])
                print(f"  {kind:10s} p95 change {100 * (on - off) / off:+.1f} %")
            scraped = httpx.get(servers["on"].url + "/metrics").text
            turns = [ln for ln in scraped.splitlines() if ln.startswith("openreplica_events_sent")]
            print(f"  /metrics on the 'on' server: {len(scraped)} bytes, {len(turns)} event types")
        finally:
            for server in servers.values():
                server.stop()
            collector.shutdown()


async def main_async(args: argparse.Namespace) -> None:
    if args.observability:
        await compare_observability(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data")
        try:
            print(f"openreplica server benchmark (loopback, pid {server.pid})")
            print(
                f"\nlatency: interaction sent -> first resulting event, ms ({args.rounds} rounds)"
            )
            samples = await latency(server, args.rounds)
            for name, values in samples.items():
                print(f"  {name:10s} {_ms(values)}")
            every = [v for values in samples.values() for v in values]
            print(f"  {'all':10s} {_ms(every)}")
            print(f"\nfan-out: events/s delivered in total, {args.seconds:g} s per run")
            for n in (1, 10, 100):
                rates = [(await fan_out(server, n, args.seconds))[0] for _ in range(args.runs)]
                print(
                    f"  {n:3d} connections  median {statistics.median(rates):9.0f} events/s"
                    f"  (runs: {', '.join(f'{r:.0f}' for r in rates)})"
                )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000, help="latency samples per kind")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a fan-out run")
    parser.add_argument("--runs", type=int, default=3, help="fan-out runs per size")
    parser.add_argument(
        "--observability", action="store_true", help="latency with metrics/traces off vs on"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
