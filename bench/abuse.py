"""Abuse benchmark: what one hostile client costs a real `openreplica serve` process.

For each hostile input of issue #11 a fresh server is started (free loopback port, its
own data directory, an API key, stopped by its pid) and attacked over loopback while a
separate probe process times an unrelated conversation on the same server:

- REST: `GET /v2/conversations/{other}` every 50 ms;
- WebSocket: a non-JSON message on another conversation's socket -> its `system.error`,
  every 100 ms (a reply that needs the event loop, nothing else).

The server's memory is sampled from `/proc/<pid>/status` (VmRSS every 20 ms, and VmHWM,
whose peak is reset through `/proc/<pid>/clear_refs` when the attack starts). Growth is
measured from the resident size just before the attack. Targets (issue #11):
no single message (<= 1 MiB; for the 64 MiB bodies, the body) grows memory by more than
50 MB or delays the other conversation by more than 50 ms, and sustained abuse at the
rate limit for 60 s holds memory flat (+-30 MB). Behaviour is checked as well where the
SPEC is clear (no HTTP 5xx, the socket survives a bad message, no hang, no crash).

Every attack is bounded in count and time; a server that dies, hangs or passes the
memory cap (killed: the machine is shared) is a FAIL, and the next attack gets a new
server. Only loopback traffic.

Run: .venv/bin/python bench/abuse.py [--quick] [--only a,c] [--sustain 60]
     [--plugins real|scripted] [--rate-limit 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

CONNECT: dict[str, Any] = {
    "compression": None,
    "max_size": None,
    "ping_interval": None,
    "open_timeout": 10,
    "close_timeout": 2,
}
MEMORY_TARGET_MB = 50.0
LATENCY_TARGET_MS = 50.0
SUSTAIN_TARGET_MB = 30.0
PROBE_TIMEOUT = 5.0
REST_EVERY = 0.05
WS_EVERY = 0.1
SAMPLE_EVERY = 0.02
MiB = 1 << 20

Msg = dict[str, Any]


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _status_kb(pid: int, key: str) -> int | None:
    """A `Vm*` line of /proc/<pid>/status in kB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


class Server:
    """One `openreplica serve` process with an API key, on a free loopback port."""

    def __init__(self, data_dir: Path, *, scripted: bool, rate_limit: float) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secrets.token_hex(16)
        self.log = data_dir.parent / f"server-{self.port}.log"
        env = {
            **os.environ,
            "OPENREPLICA_DATA_DIR": str(data_dir),
            "OPENREPLICA_API_KEY": self.api_key,
            "OPENREPLICA_RATE_LIMIT": f"{rate_limit:g}",
            "OPENREPLICA_RATE_BURST": str(max(1, int(2 * rate_limit))),
            "OPENREPLICA_LOG_LEVEL": "warning",
            "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "1" if scripted else "0",
        }
        env.pop("OPENREPLICA_LLM_BASE_URL", None)
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "openreplica.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.killed_for_memory = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key}

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the server exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready in {timeout:g} s")

    def ws(self, cid: str, **query: object) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"ws://127.0.0.1:{self.port}/v2/conversations/{cid}/ws" + (f"?{q}" if q else "")

    def rss_mb(self) -> float | None:
        kb = _status_kb(self.pid, "VmRSS")
        return None if kb is None else kb / 1024

    def hwm_mb(self) -> float | None:
        kb = _status_kb(self.pid, "VmHWM")
        return None if kb is None else kb / 1024

    def reset_peak(self) -> None:
        """Reset VmHWM to the current resident size (Linux: `5` > clear_refs)."""
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------- messages


def interaction(event_type: str, message_type: str = "conversation", **props: Any) -> str:
    return json.dumps({"message_type": message_type, "event_type": event_type, "properties": props})


INTERRUPT = interaction("conversation.interrupt")


def echo_text(text: str, inference_id: str) -> str:
    return interaction("conversation.echo", text=text, inference_id=inference_id)


def echo_audio(pcm: bytes, sample_rate: int, inference_id: str, done: bool | None = None) -> str:
    props: dict[str, Any] = {
        "modality": "audio",
        "audio": base64.b64encode(pcm).decode(),
        "sample_rate": sample_rate,
        "inference_id": inference_id,
    }
    if done is not None:
        props["done"] = done
    return interaction("conversation.echo", **props)


def resume(last_seq: int) -> str:
    return interaction("system.resume", "system", last_seq=last_seq)


def tone_pcm(seconds: float, rate: int) -> bytes:
    """A quiet 220 Hz tone, 16-bit little-endian mono (built once per attack)."""
    n = int(seconds * rate)
    one = bytes(
        b
        for i in range(rate // 220 or 1)
        for b in int(3000 * math.sin(2 * math.pi * 220 * i / rate)).to_bytes(
            2, "little", signed=True
        )
    )
    return (one * (n * 2 // len(one) + 1))[: n * 2]


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_in_echo(depth: int) -> str:
    """An echo carrying a deep list under an unknown key: ~2 bytes per level. (A bare
    top-level list is refused before its depth matters: it is not an object.)"""
    return (
        '{"event_type": "conversation.echo", "properties": {"text": "hi", "x": '
        + nested_list(depth)
        + "}}"
    )


BAD_UTF8 = b'{"event_type": "conversation.echo", "properties": {"text": "\xff\xfe\xc3("}}'


# --------------------------------------------------------------------------- a socket


class Peer:
    """A WebSocket whose messages are read as they come (so the server never blocks on
    it): counts every `system.error` code, remembers the close code, and lets a caller
    expect a message matching a predicate (registered before the send that causes it)."""

    def __init__(self, ws: ClientConnection, keep: bool = True) -> None:
        self.ws = ws
        self.keep = keep
        self.messages: list[Msg] = []
        self.received = 0
        self.errors: Counter[str] = Counter()
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._waiters: list[tuple[Callable[[Msg], bool], asyncio.Future[Msg]]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, keep: bool = True) -> Peer:
        return cls(await websockets.connect(url, **CONNECT), keep)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code if self.closed.is_set() else None

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    message = {"event_type": "<not json>"}
                if not isinstance(message, dict):
                    message = {"event_type": "<not an object>"}
                self.received += 1
                if message.get("event_type") == "system.error":
                    self.errors[str((message.get("properties") or {}).get("code"))] += 1
                if self.keep:
                    self.messages.append(message)
                for waiter in list(self._waiters):
                    match, future = waiter
                    if not future.done() and match(message):
                        future.set_result(message)
                        self._waiters.remove(waiter)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()
            for _, future in self._waiters:
                if not future.done():
                    future.set_exception(ConnectionError(f"closed ({self.ws.close_code})"))

    def expect(self, match: Callable[[Msg], bool]) -> asyncio.Future[Msg]:
        """A future for the next message matching `match` (fails if the socket closes)."""
        future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        # a future nobody awaits any more (its socket closed) must not warn at exit
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        if self.closed.is_set():
            future.set_exception(ConnectionError(f"closed ({self.ws.close_code})"))
        else:
            self._waiters.append((match, future))
        return future

    async def send(self, data: str | bytes, text: bool = True) -> bool:
        """Send one frame; False when the socket is closed."""
        try:
            await asyncio.wait_for(self.ws.send(data, text=text), 10)
            return True
        except (websockets.ConnectionClosed, TimeoutError):
            return False

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) until `condition()` holds after some message or the close."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.closed.is_set() or time.monotonic() >= deadline:
                return condition()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        return True

    async def alive(self, tag: str, timeout: float = 5.0) -> bool:
        """The conversation still works for this socket: an echo gets its (sequenced)
        `replica.started_speaking`; it is then interrupted."""
        inference_id = f"alive-{tag}-{secrets.token_hex(3)}"
        started = self.expect(
            lambda m: (
                m.get("event_type") == "conversation.replica.started_speaking"
                and m.get("inference_id") == inference_id
            )
        )
        ok = await self.send(echo_text("still here", inference_id))
        ok = ok and await within(started, timeout) is not None
        await self.send(INTERRUPT)
        return ok

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3)
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def within(future: asyncio.Future[Msg], timeout: float) -> Msg | None:
    """The future's message, or None if it failed or did not come in time."""
    try:
        return await asyncio.wait_for(future, timeout)
    except (TimeoutError, ConnectionError):
        return None


def is_error(m: Msg) -> bool:
    return m.get("event_type") == "system.error"


# --------------------------------------------------------------------------- the probe


def _probe_process(
    url: str, api_key: str, cid: str, ws_url: str, conn: Connection, stop: MpEvent
) -> None:
    """Runs in a child process, so the attacker's own CPU use cannot delay the probe."""
    samples = asyncio.run(_probe(url, api_key, cid, ws_url, conn, stop))
    conn.send(samples)
    conn.close()


async def _probe(
    url: str, api_key: str, cid: str, ws_url: str, conn: Connection, stop: MpEvent
) -> dict[str, list[float | None]]:
    samples: dict[str, list[float | None]] = {"rest": [], "ws": []}
    ready = asyncio.Event()

    async def rest() -> None:
        async with httpx.AsyncClient(
            base_url=url, headers={"x-api-key": api_key}, timeout=PROBE_TIMEOUT
        ) as client:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    ok = (await client.get(f"/v2/conversations/{cid}")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - started
                if ready.is_set():
                    samples["rest"].append(elapsed if ok else None)
                await asyncio.sleep(max(0.0, REST_EVERY - elapsed))

    async def ws() -> None:
        peer: Peer | None = None
        while not stop.is_set():
            started = time.perf_counter()
            try:
                if peer is None or peer.closed.is_set():
                    peer = await Peer.connect(ws_url, keep=False)
                    started = time.perf_counter()
                reply = peer.expect(is_error)
                ok = await peer.send("probe: not json")
                ok = ok and await within(reply, PROBE_TIMEOUT) is not None
            except (OSError, websockets.WebSocketException, TimeoutError):
                ok = False
            elapsed = time.perf_counter() - started
            if ready.is_set():
                samples["ws"].append(elapsed if ok else None)
            ready.set()  # the first round trip only warms the connection up
            await asyncio.sleep(max(0.0, WS_EVERY - elapsed))
        if peer is not None:
            await peer.close()

    tasks = [asyncio.create_task(rest()), asyncio.create_task(ws())]
    await ready.wait()
    conn.send("ready")
    await asyncio.gather(*tasks)
    return samples


class Probe:
    def __init__(self, server: Server, cid: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._stop = context.Event()
        self._process = context.Process(
            target=_probe_process,
            args=(server.url, server.api_key, cid, server.ws(cid), child, self._stop),
            daemon=True,
        )

    async def start(self) -> None:
        self._process.start()
        if not await asyncio.to_thread(self._conn.poll, 30):
            raise RuntimeError("the probe did not start")
        self._conn.recv()

    async def stop(self) -> dict[str, list[float | None]]:
        self._stop.set()
        samples: dict[str, list[float | None]] = {"rest": [], "ws": []}
        if await asyncio.to_thread(self._conn.poll, 2 * PROBE_TIMEOUT + 5):
            samples = self._conn.recv()
        await asyncio.to_thread(self._process.join, 5)
        if self._process.is_alive():
            self._process.kill()
        return samples


# --------------------------------------------------------------------------- memory


class MemoryWatch:
    """Samples VmRSS; kills the server if it grows past the cap (the machine is shared)."""

    def __init__(self, server: Server, cap_mb: float) -> None:
        self.server = server
        self.cap_mb = cap_mb
        self.baseline = 0.0
        self.series: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        readings = []
        for _ in range(10):  # a settled baseline: the median of 10 readings over 0.2 s
            rss = self.server.rss_mb()
            if rss is not None:
                readings.append(rss)
            await asyncio.sleep(SAMPLE_EVERY)
        self.baseline = statistics.median(readings) if readings else 0.0
        self.server.reset_peak()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        started = time.monotonic()
        while True:
            rss = self.server.rss_mb()
            if rss is None:
                return
            self.series.append((time.monotonic() - started, rss))
            if rss - self.baseline > self.cap_mb:
                self.server.killed_for_memory = True
                self.server.kill()
                return
            await asyncio.sleep(SAMPLE_EVERY)

    def peak_growth(self) -> float:
        peaks = [rss for _, rss in self.series]
        hwm = self.server.hwm_mb()  # catches a spike between two samples
        if hwm is not None:
            peaks.append(hwm)
        return max(peaks, default=self.baseline) - self.baseline

    def end_growth(self) -> float:
        return (self.series[-1][1] if self.series else self.baseline) - self.baseline

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# --------------------------------------------------------------------------- attacks


@dataclass
class Target:
    """What an attack gets: the server, a REST client and an echo-mode conversation."""

    server: Server
    client: httpx.AsyncClient
    args: argparse.Namespace
    persona_id: str
    cid: str

    async def conversation(self, **body: Any) -> str:
        response = await self.client.post(
            "/v2/conversations",
            json={
                "persona_id": self.persona_id,
                "properties": {"max_call_duration": 86400, "participant_left_timeout": 600},
                **body,
            },
        )
        response.raise_for_status()
        cid: str = response.json()["conversation_id"]
        return cid

    async def peer(self, cid: str | None = None, keep: bool = True, **query: object) -> Peer:
        return await Peer.connect(self.server.ws(cid or self.cid, **query), keep)

    @property
    def rate(self) -> float:
        rate: float = self.args.rate_limit
        return rate


@dataclass
class Verdict:
    ok: bool
    note: str


Attack = Callable[[Target], Awaitable[Verdict]]


async def paced(rate: float, count: int, seconds: float | None = None) -> AsyncIterator[int]:
    """Yield 0..count-1 at `rate` per second (stops early after `seconds`)."""
    started = time.monotonic()
    for i in range(count):
        due = started + i / rate
        if seconds is not None and due - started >= seconds:
            return
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        yield i


async def control(t: Target) -> Verdict:
    """(0) no attack: the probe's own noise floor on this machine, for comparison."""
    await asyncio.sleep(t.args.observe)
    return Verdict(True, "no attack: the latency noise floor of this machine")


async def attack_audio_rate_1(t: Target) -> Verdict:
    """(a) 20,000 samples of audio declared as 1 Hz: 20,000 s to resample (53 KB)."""
    message = echo_audio(tone_pcm(20_000 / 16000, 16000), 1, "rate-1", done=True)
    peer = await t.peer()
    reply = peer.expect(is_error)
    await peer.send(message)
    error = await within(reply, 3)
    alive = await peer.alive("a")
    await peer.close()
    code = (error or {}).get("properties", {}).get("code")
    note = f"{len(message) // 1000} KB; reply {code or 'none'}; socket {'ok' if alive else 'dead'}"
    return Verdict(code == "invalid_properties" and alive, note)


async def attack_echo_interrupt_pairs(t: Target) -> Verdict:
    """(b) back-to-back echo + interrupt pairs at the rate limit."""
    peer = await t.peer(keep=False)
    sent = 0
    async for i in paced(t.rate, 2 * t.args.pairs):
        if not await peer.send(echo_text("hello there", f"p{i}") if i % 2 == 0 else INTERRUPT):
            break
        sent += 1
    alive = await peer.alive("b")
    await peer.close()
    limited = peer.errors["rate_limited"]
    note = f"{sent // 2} pairs sent, {limited} rate_limited; socket {'ok' if alive else 'dead'}"
    return Verdict(alive and sent == 2 * t.args.pairs, note)


async def attack_echo_text_1mb(t: Target) -> Verdict:
    """(c) one echo whose text fills the 1 MiB message limit."""
    head = len(echo_text("", "big"))
    sentence = "The quick brown fox jumps over the lazy dog. "
    text = (sentence * (MiB // len(sentence)))[: MiB - head - 16]
    message = echo_text(text, "big")
    peer = await t.peer()
    reply = peer.expect(is_error)
    await peer.send(message)
    error = await within(reply, 2)
    # synthesis runs for seconds after the message: watch it before the liveness echo
    # (which interrupts the utterance and so would end the growth early)
    await asyncio.sleep(2 * t.args.observe)
    alive = await peer.alive("c", timeout=10)
    await peer.close()
    code = (error or {}).get("properties", {}).get("code")
    note = f"{len(message) // 1024} KiB; reply {code or 'none'}; socket {'ok' if alive else 'dead'}"
    return Verdict(alive, note)


async def attack_audio_ahead(t: Target) -> Verdict:
    """(d) 16 kHz chunks of one inference_id, far faster than real time."""
    seconds = t.args.audio_seconds
    chunk = 4.0  # seconds of audio per message (171 KB of base64)
    per_second = min(12.5, 0.9 * t.rate)
    pcm = tone_pcm(chunk, 16000)
    peer = await t.peer()
    sent = 0
    async for _ in paced(per_second, 10_000, seconds):
        if not await peer.send(echo_audio(pcm, 16000, "ahead", done=False)):
            break
        sent += 1
    await peer.until(lambda: bool(peer.errors), 1)
    errors = dict(peer.errors)
    alive = await peer.alive("d")
    await peer.close()
    note = (
        f"{sent} chunks = {sent * chunk:.0f} s of audio in {seconds:g} s; errors {errors or 'none'}"
        f"; socket {'ok' if alive else 'dead'}"
    )
    # audio much faster than real time must be refused with a clear error (issue #11.4)
    return Verdict(alive and bool(errors), note)


async def _post_streamed(
    port: int, path: str, size: int, headers: dict[str, str], timeout: float
) -> str:
    """POST a `size`-byte JSON body over a raw socket, 64 KiB at a time, and stop as
    soon as the server answers (a refusal before the body is read in full). Returns the
    status code and how much was sent, or what happened instead of an answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\ncontent-length: {size}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "connection: close\r\n\r\n"
    ).encode()
    prefix, suffix, filler = b'{"sdp": "', b'"}', b"v=0 " * (16 * 1024)
    answer = asyncio.ensure_future(reader.readline())
    sent = 0
    failure = ""
    try:
        writer.write(head + prefix)
        sent = len(prefix)
        while sent < size - len(suffix) and not answer.done():
            piece = filler[: size - len(suffix) - sent]
            writer.write(piece)
            await asyncio.wait_for(writer.drain(), timeout)
            sent += len(piece)
        if not answer.done():
            writer.write(suffix)
            sent += len(suffix)
    except (ConnectionError, TimeoutError) as exc:
        failure = type(exc).__name__
    try:  # the server may have answered before it stopped reading
        status = (await asyncio.wait_for(answer, timeout)).decode(errors="replace")
    except (ConnectionError, TimeoutError, OSError) as exc:
        status = ""
        failure = failure or type(exc).__name__
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)
    code = status.split(" ", 2)[1] if status.startswith("HTTP/") else (failure or "no answer")
    return f"{code} after {sent / MiB:.1f} MiB"


async def attack_big_unauthenticated_offers(t: Target) -> Verdict:
    """(e) four concurrent 64 MiB POSTs to the offer route of a conversation that
    requires auth, with no credential."""
    cid = await t.conversation(require_auth=True)
    path = f"/v2/conversations/{cid}/webrtc/offer"
    outcomes = await asyncio.gather(
        *[_post_streamed(t.server.port, path, 64 * MiB, {}, 20) for _ in range(4)],
        return_exceptions=True,
    )
    texts = [str(o) if not isinstance(o, BaseException) else type(o).__name__ for o in outcomes]
    refused = all(text.split(" ")[0] in ("401", "413") for text in texts)
    return Verdict(refused, "; ".join(sorted(Counter(texts).keys())))


async def attack_nested_json(t: Target) -> Verdict:
    """(f) a 3,000-level nested body on the offer route; 1,000 levels over the WebSocket,
    sent after three bad messages whose replies must not be lost."""
    body = nested_list(3000).encode()
    try:
        response = await t.client.post(
            f"/v2/conversations/{t.cid}/webrtc/offer",
            content=body,
            headers={"content-type": "application/json"},
        )
        http = str(response.status_code)
    except httpx.HTTPError as exc:
        http = type(exc).__name__
    peer = await t.peer()
    for _ in range(3):
        await peer.send("{not json")
    await peer.send(nested_in_echo(1000))
    await peer.until(lambda: sum(peer.errors.values()) >= 4, 3)
    errors = sum(peer.errors.values())
    alive = await peer.alive("f")
    await peer.close()
    note = f"HTTP {http}; WS {errors}/4 system.error" + (
        f", closed {peer.close_code}" if not alive else ""
    )
    return Verdict(http.startswith("4") and errors == 4 and alive, note)


async def attack_huge_last_seq(t: Target) -> Verdict:
    """(g) last_seq = 2**63 as the query parameter and in system.resume, and a
    last_seq far beyond the newest event."""
    notes = []
    query_ok = True
    for name, value in (("2**63", 2**63), ("future", 1_000_000)):
        query = await t.peer(last_seq=value)
        ok = await query.alive(f"g-{name}")
        notes.append(f"?last_seq={name}: {'ok' if ok else f'dead/muted ({query.close_code})'}")
        await query.close()
        query_ok = query_ok and ok
    peer = await t.peer()
    replies = []
    for value in (2**63, 1_000_000):
        reply = peer.expect(is_error)
        await peer.send(resume(value))
        replies.append(await within(reply, 3))
    alive = await peer.alive("g-resume")
    await peer.close()
    codes = [(r or {}).get("properties", {}).get("code", "none") for r in replies]
    notes.append(f"resume 2**63: {codes[0]}, future: {codes[1]}, then")
    notes[-1] += " ok" if alive else f" dead/muted ({peer.close_code})"
    return Verdict(query_ok and alive and codes[0] != "none", "; ".join(notes))


async def attack_invalid_utf8(t: Target) -> Verdict:
    """(h) text frames that are not UTF-8, at the rate limit (a new socket whenever the
    server closes one); faster, the liveness echo after them would only be rate-limited."""
    frames = t.args.utf8_frames
    before = t.server.log_text()
    closes: Counter[str] = Counter()
    replies = 0
    peer = await t.peer(keep=False)
    async for _ in paced(t.rate, frames):
        if peer.closed.is_set():
            closes[str(peer.close_code)] += 1
            await peer.close()
            peer = await t.peer(keep=False)
        reply = peer.expect(is_error)
        await peer.send(BAD_UTF8, text=True)
        replies += await within(reply, 1) is not None
    alive = await peer.alive("h")
    await peer.close()
    logged = t.server.log_text()[len(before) :]
    tracebacks = logged.count("Traceback")
    errors = len(re.findall(r"\bERROR\b", logged))
    note = (
        f"{frames} frames: {replies} system.error, closes {dict(closes) or 'none'}, "
        f"{errors} ERROR log lines, {tracebacks} tracebacks"
    )
    return Verdict(alive and tracebacks <= 1 and errors <= 1, note)


async def attack_patch_amplification(t: Target) -> Verdict:
    """(i) JSON Patch `copy` of a list into itself, 19 times: 64 bytes -> 32 MB."""
    response = await t.client.post(
        "/v2/personas", json={"pipeline_mode": "echo", "blob": ["x" * 60]}
    )
    persona_id = response.json()["persona_id"]
    ops = [{"op": "copy", "from": "/blob", "path": "/blob/-"} for _ in range(19)]
    received = 0
    async with t.client.stream(
        "PATCH", f"/v2/personas/{persona_id}", json=ops, timeout=60
    ) as patched:
        async for piece in patched.aiter_bytes():
            received += len(piece)
            if received > 2 * MiB:
                break
    status = patched.status_code
    note = f"{len(json.dumps(ops))} B of patch -> HTTP {status}, " + (
        "> 2 MiB persona" if received > 2 * MiB else f"{received // 1024} KiB answer"
    )
    return Verdict(400 <= status < 500 or (received <= MiB and status == 200), note)


async def attack_ten_sockets(t: Target) -> Verdict:
    """(j) ten sockets on one conversation, each sending echo+interrupt at the rate limit."""
    seconds = t.args.ten_seconds
    peers = [await t.peer(keep=False) for _ in range(10)]

    async def drive(n: int, peer: Peer) -> int:
        sent = 0
        async for i in paced(t.rate, 1_000_000, seconds):
            text = echo_text("hello there", f"s{n}-{i}") if i % 2 == 0 else INTERRUPT
            if not await peer.send(text):
                break
            sent += 1
        return sent

    sent = sum(await asyncio.gather(*[drive(n, p) for n, p in enumerate(peers)]))
    await asyncio.sleep(0.5)  # the last rate_limited replies
    limited = sum(p.errors["rate_limited"] for p in peers)
    alive = all([await p.alive(f"j{n}") for n, p in enumerate(peers[:2])])
    for p in peers:
        await p.close()
    accepted = (sent - limited) / seconds
    note = (
        f"{sent} sent, {limited} rate_limited: {accepted:.0f} accepted/s on one conversation "
        f"(per-connection limit {t.rate:g}/s)"
    )
    # a per-conversation limit must bite well below ten connections' worth
    return Verdict(alive and accepted < 8 * t.rate, note)


ATTACKS: dict[str, tuple[str, Attack]] = {
    "0": ("control (no attack)", control),
    "a": ("audio echo, sample_rate 1", attack_audio_rate_1),
    "b": ("echo+interrupt pairs", attack_echo_interrupt_pairs),
    "c": ("1 MB echo text", attack_echo_text_1mb),
    "d": ("audio ahead of playout", attack_audio_ahead),
    "e": ("4 x 64 MiB unauth offer", attack_big_unauthenticated_offers),
    "f": ("nested JSON (HTTP, WS)", attack_nested_json),
    "g": ("last_seq 2**63 / future", attack_huge_last_seq),
    "h": ("invalid UTF-8 frames", attack_invalid_utf8),
    "i": ("JSON Patch copy x19", attack_patch_amplification),
    "j": ("10 sockets at the limit", attack_ten_sockets),
}


def _sustain_messages() -> Iterator[tuple[str | bytes, bool]]:
    """The sustained mix, cycled: echoes cut by interrupts, odd audio, bad messages."""
    small = tone_pcm(0.02, 16000)
    i = 0
    while True:
        i += 1
        yield echo_text("hello there", f"m{i}"), True
        yield INTERRUPT, True
        yield echo_audio(small, 16000, f"au{i}", done=True), True
        yield INTERRUPT, True
        yield echo_audio(small, 7, f"odd{i}", done=True), True
        yield INTERRUPT, True
        yield "{not json", True
        yield interaction("conversation.fly"), True
        yield interaction("conversation.echo", modality="audio", audio="***"), True
        yield resume(2**63), True
        yield nested_in_echo(1000), True
        yield BAD_UTF8, True


async def sustain(t: Target, watch: MemoryWatch) -> Verdict:
    """Sustained abuse at the rate limit: one socket, the mix above; reconnects when
    the server drops it."""
    seconds = t.args.sustain
    messages = _sustain_messages()
    peer = await t.peer(keep=False)
    reconnects = sent = 0
    async for _ in paced(t.rate * 0.95, 10_000_000, seconds):
        if peer.closed.is_set():
            reconnects += 1
            await peer.close()
            peer = await t.peer(keep=False)
        data, text = next(messages)
        sent += await peer.send(data, text=text)
    await peer.close()
    grew, end = watch.peak_growth(), watch.end_growth()
    note = (
        f"{sent} messages in {seconds:g} s, {reconnects} reconnects; "
        f"memory peak {grew:+.0f} MB, end {end:+.0f} MB"
    )
    flat = abs(grew) <= SUSTAIN_TARGET_MB and abs(end) <= SUSTAIN_TARGET_MB
    return Verdict(flat, note)


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    key: str
    name: str
    grew_mb: float | None = None
    rest: list[float | None] = field(default_factory=list)
    ws: list[float | None] = field(default_factory=list)
    verdict: Verdict | None = None
    failure: str | None = None
    memory_limit: float = MEMORY_TARGET_MB

    def worst_ms(self) -> float:
        values = [v for v in self.rest + self.ws if v is not None]
        return max(values, default=0.0) * 1e3

    def lost(self) -> int:
        return sum(v is None for v in self.rest + self.ws)

    def passed(self) -> bool:
        if self.failure or self.verdict is None or not self.verdict.ok:
            return False
        if self.grew_mb is None or self.grew_mb > self.memory_limit:
            return False
        return self.lost() == 0 and self.worst_ms() <= LATENCY_TARGET_MS


def _ms(values: list[float | None]) -> str:
    got = sorted(v * 1e3 for v in values if v is not None)
    lost = len(values) - len(got)
    if not got:
        return f"{'-':>17}" + (f" ({lost} lost)" if lost else "")
    p50 = statistics.median(got)
    p99 = got[min(len(got) - 1, math.ceil(0.99 * len(got)) - 1)]
    text = f"{p50:5.1f}/{p99:6.1f}/{got[-1]:6.0f}"
    return text + (f" ({lost} lost)" if lost else "")


async def _setup(server: Server, args: argparse.Namespace) -> tuple[Target, str]:
    client = httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30)
    persona = await client.post("/v2/personas", json={"pipeline_mode": "echo"})
    persona.raise_for_status()
    t = Target(server, client, args, persona.json()["persona_id"], "")
    t.cid = await t.conversation()
    other = await t.conversation()
    # warm the code paths (first synthesis, first socket) before the baseline is taken
    peer = await t.peer()
    await peer.alive("warm", timeout=30)
    await peer.close()
    return t, other


async def run_one(
    key: str,
    name: str,
    attack: Callable[..., Awaitable[Verdict]],
    args: argparse.Namespace,
    budget: float,
    sustained: bool = False,
) -> Outcome:
    outcome = Outcome(key, name)
    if sustained:  # every message is still a single message: the latency target holds
        outcome.memory_limit = SUSTAIN_TARGET_MB
    with tempfile.TemporaryDirectory(prefix="openreplica-abuse-") as tmp:
        server = Server(
            Path(tmp) / "data", scripted=args.plugins == "scripted", rate_limit=args.rate_limit
        )
        probe: Probe | None = None
        watch = MemoryWatch(server, args.rss_cap_mb)
        t: Target | None = None
        try:
            await asyncio.to_thread(server.wait_ready)
            t, other = await _setup(server, args)
            probe = Probe(server, other)
            await probe.start()
            await watch.start()
            try:
                async with asyncio.timeout(budget):
                    if sustained:
                        outcome.verdict = await attack(t, watch)
                    else:
                        outcome.verdict = await attack(t)
                        await asyncio.sleep(args.observe)  # late growth, late stalls
            except TimeoutError:
                outcome.failure = f"timed out after {budget:.0f} s"
            except (OSError, httpx.HTTPError, websockets.WebSocketException) as exc:
                outcome.failure = f"client error: {type(exc).__name__}: {exc}"[:120]
            outcome.grew_mb = watch.peak_growth()
            if server.killed_for_memory:
                outcome.failure = f"killed: grew past the {args.rss_cap_mb:g} MB cap"
            elif not server.alive():
                outcome.failure = f"server died (exit {server.process.returncode})"
        except RuntimeError as exc:
            outcome.failure = str(exc)
        finally:
            await watch.stop()
            if probe is not None:
                samples = await probe.stop()
                outcome.rest, outcome.ws = samples["rest"], samples["ws"]
            if t is not None:
                await t.client.aclose()
            server.stop()
            if args.keep_logs and server.log.exists():
                target = Path(args.keep_logs) / f"abuse-{key}.log"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(server.log_text())
    return outcome


def _budget(key: str, args: argparse.Namespace) -> float:
    expected: float = {
        "b": 2 * args.pairs / args.rate_limit,
        "c": 2 * args.observe,
        "d": args.audio_seconds,
        "h": args.utf8_frames * 0.05,
        "j": args.ten_seconds,
    }.get(key, 0.0)
    observe: float = args.observe
    return expected + observe + 60


def _print_row(o: Outcome) -> None:
    grew = "-" if o.grew_mb is None else f"{o.grew_mb:+7.0f}"
    verdict = "info" if o.key == "0" else "PASS" if o.passed() else "FAIL"
    note = o.failure or (o.verdict.note if o.verdict else "")
    print(f"{o.key:2s} {o.name:26s} {grew:>8s}  {_ms(o.rest):>24s}  {_ms(o.ws):>24s}  {verdict}")
    print(f"{'':29s}{note}", flush=True)


async def main_async(args: argparse.Namespace) -> int:
    keys = [k.strip() for k in args.only.split(",")] if args.only else list(ATTACKS)
    print(
        f"openreplica abuse benchmark: {args.plugins} plugins, rate limit {args.rate_limit:g}/s"
        f" per connection, {os.cpu_count()} cores; a fresh server per attack\n"
        f"targets: memory <= {MEMORY_TARGET_MB:g} MB, other conversation <= "
        f"{LATENCY_TARGET_MS:g} ms (worst, no probe lost); sustained: memory within "
        f"+-{SUSTAIN_TARGET_MB:g} MB\n"
    )
    print(
        f"{'':2s} {'input':26s} {'mem MB':>8s}  {'REST ms p50/p99/max':>24s}  "
        f"{'WS ms p50/p99/max':>24s}  verdict"
    )
    outcomes = []
    for key in keys:
        if key == "sustain":
            continue
        name, attack = ATTACKS[key]
        outcome = await run_one(key, name, attack, args, _budget(key, args))
        _print_row(outcome)
        outcomes.append(outcome)
    if args.sustain > 0 and (not args.only or "sustain" in keys):
        outcome = await run_one(
            "S",
            f"sustained {args.sustain:g} s at the limit",
            sustain,
            args,
            args.sustain + 60,
            sustained=True,
        )
        _print_row(outcome)
        outcomes.append(outcome)
    control = next((o for o in outcomes if o.key == "0"), None)
    if control is not None and not control.passed():
        print(
            f"\nnote: with no attack the worst latency was already {control.worst_ms():.0f} ms: "
            "this machine is too busy for the latency verdicts to mean much; run it again"
        )
    outcomes = [o for o in outcomes if o.key != "0"]
    failed = [o.key for o in outcomes if not o.passed()]
    print(
        f"\n{len(outcomes) - len(failed)}/{len(outcomes)} PASS"
        + (f"; FAIL: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short counts and durations")
    parser.add_argument("--only", help="comma-separated attack keys (0, a..j, sustain)")
    parser.add_argument("--sustain", type=float, default=60.0, help="seconds of sustained abuse")
    parser.add_argument(
        "--plugins",
        choices=("real", "scripted"),
        default="real",
        help="real models (Piper etc., default) or the instant test doubles",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=20.0,
        help="the server's per-connection limit (its default: 20/s)",
    )
    parser.add_argument("--pairs", type=int, default=2000, help="echo+interrupt pairs in (b)")
    parser.add_argument("--audio-seconds", type=float, default=10.0, help="length of (d)")
    parser.add_argument("--ten-seconds", type=float, default=10.0, help="length of (j)")
    parser.add_argument("--utf8-frames", type=int, default=200, help="frames in (h)")
    parser.add_argument(
        "--observe", type=float, default=5.0, help="seconds watched after an attack's last message"
    )
    parser.add_argument(
        "--rss-cap-mb",
        type=float,
        default=1500.0,
        help="kill the server when it grows past this (a FAIL)",
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="copy each server's log here")
    args = parser.parse_args()
    if args.quick:
        args.pairs = min(args.pairs, 200)
        args.sustain = min(args.sustain, 10.0)
        args.audio_seconds = min(args.audio_seconds, 3.0)
        args.ten_seconds = min(args.ten_seconds, 3.0)
        args.utf8_frames = min(args.utf8_frames, 50)
        args.observe = min(args.observe, 2.0)
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
