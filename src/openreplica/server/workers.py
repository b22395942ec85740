"""`openreplica serve --workers N`: N node processes behind one port (docs/scaling.md).

Every worker is a cluster node like any other (its own node id, its heartbeat in Redis,
the conversations it hosts, relays to the others), so N workers on one machine are
coordinated exactly as N machines are: through the Redis and the PostgreSQL they are
given. What the workers add:

- **one port**: each worker binds the public HOST:PORT with `SO_REUSEPORT` (Linux), and
  the kernel spreads new connections over the workers. A connection may land on any of
  them: one that does not host the conversation relays it, as a cluster node does.
- **an internal URL each**: the shared port cannot address one worker, so each also
  listens on its own port (loopback by default, or `--node-url http://ADDR:PORT`: worker
  i on ADDR:PORT+i, for workers that nodes on other machines must reach) and registers
  it as its node URL, for node-to-node HTTP.
- **a supervisor** (this process): starts the workers, restarts one that crashes (with a
  new node id, so the others treat the old one as a failed node, and the new one is not
  taken for it), gives up with a clear message when workers keep crashing or one cannot
  start, and on SIGTERM/SIGINT asks every worker to drain (SIGTERM each, once; a second
  signal forces) and waits for them. A worker that drains hands its conversations to
  the nodes that keep running (server/drain.py): a single worker sent SIGTERM by hand
  (`kill -TERM <pid>`) hands them to the other workers, and the supervisor starts it
  again as a new node; when the supervisor stops every worker at once, they all mark
  themselves draining within the drain's notice and none takes another's, so each
  conversation goes to a node on another machine with room or, with none, ends with
  `system.shutdown` `server_shutdown` as a single process's do.

The workers run in their own process group (a Ctrl-C in a terminal reaches only the
supervisor, which forwards one SIGTERM) and die with it (`PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import re
import signal
import socket
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from urllib.parse import urlsplit

from openreplica.server.settings import ServerSettings, SettingsError

__all__ = [
    "RESTARTS_PER_MINUTE",
    "Supervisor",
    "WorkerSpec",
    "shared_listener",
    "supervise",
    "worker_specs",
]

#: crashes of all workers together within a minute after which the supervisor gives up
RESTARTS_PER_MINUTE = 5
#: seconds a worker may take to start (migrations, model warm-up start in the background)
START_TIMEOUT = 120.0
#: seconds past the drain bounds (conversation end, webhooks) before a worker is killed
STOP_SLACK = 15.0


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Worker `index`, incarnation `generation` (0, then 1 after its first restart…)."""

    index: int
    node_id: str
    internal_host: str
    internal_port: int  # 0 = any free port
    generation: int = 0

    def restarted(self) -> WorkerSpec:
        base = self.node_id.rsplit(".", 1)[0] if self.generation else self.node_id
        generation = self.generation + 1
        return replace(self, node_id=f"{base}.{generation}", generation=generation)


def worker_specs(settings: ServerSettings, hostname: str) -> list[WorkerSpec]:
    """Node ids `{base}-w{i}` (base: --node-id, else HOSTNAME-PORT) and internal
    addresses (loopback, or --node-url's address and port + i)."""
    base = settings.node_id or re.sub(r"[^A-Za-z0-9_-]", "-", f"{hostname}-{settings.port}")
    host, port = "127.0.0.1", 0
    if settings.node_url:
        parts = urlsplit(settings.node_url)
        if not parts.hostname:
            raise SettingsError(f"--node-url {settings.node_url!r} has no address")
        host, port = parts.hostname, parts.port or 0
    return [
        WorkerSpec(i, f"{base}-w{i}", host, port + i if port else 0)
        for i in range(settings.workers)
    ]


def shared_listener(host: str, port: int) -> socket.socket:
    """The public port, bound with SO_REUSEPORT so that every worker can bind it too."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SettingsError("--workers needs SO_REUSEPORT (Linux)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _internal_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    return sock


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_worker(settings: ServerSettings, spec: WorkerSpec, report: Connection) -> None:
    """The body of one worker process (spawned): bind, report the URL, serve."""
    parent = os.getppid()
    os.setpgrp()
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before the line above
        sys.exit(1)
    shared = shared_listener(settings.host, settings.port)
    internal = _internal_listener(spec.internal_host, spec.internal_port)
    host = f"[{spec.internal_host}]" if ":" in spec.internal_host else spec.internal_host
    url = f"http://{host}:{internal.getsockname()[1]}"
    report.send(url)
    report.close()
    node = replace(settings, workers=0, node_url=url, node_id=spec.node_id)
    from openreplica.server.cli import serve

    sys.exit(serve(node, sockets=[shared, internal]))


@dataclass
class _Worker:
    spec: WorkerSpec
    process: BaseProcess
    report: Connection
    started_at: float
    url: str | None = None
    ready: bool = False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return int(response.status) == 200
    except OSError:
        return False


class Supervisor:
    """Starts, watches and stops the workers. `run()` returns the exit code."""

    def __init__(
        self,
        settings: ServerSettings,
        specs: list[WorkerSpec],
        *,
        say: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._specs = specs
        self._say = say
        self._now = monotonic
        self._start_timeout = start_timeout
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, _Worker] = {}
        self._crashes: deque[float] = deque()
        self._signals: list[int] = []
        self._all_ready = False

    def run(self) -> int:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for spec in self._specs:
                self._start(spec)
            return self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _start(self, spec: WorkerSpec) -> None:
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(self._settings, spec, send),
            name=f"openreplica-{spec.node_id}",
        )
        process.start()
        send.close()
        self._workers[spec.index] = _Worker(spec, process, receive, self._now())
        self._say(f"worker {spec.index}: node {spec.node_id}, pid {process.pid}")

    def _watch(self) -> int:
        while True:
            if self._signals:
                return self._stop()
            sentinels = [w.process.sentinel for w in self._workers.values()]
            wait(sentinels, timeout=0.2)
            for worker in list(self._workers.values()):
                if worker.process.exitcode is not None:
                    failed = self._exited(worker)
                    if failed is not None:
                        self._stop()
                        return failed
                else:
                    self._check_ready(worker)
                    if not worker.ready and self._now() - worker.started_at > self._start_timeout:
                        self._say(
                            f"worker {worker.spec.index} did not start within "
                            f"{self._start_timeout:g} s; stopping"
                        )
                        self._stop()
                        return 1
            if not self._all_ready and all(w.ready for w in self._workers.values()):
                self._all_ready = True
                nodes = ", ".join(f"{w.spec.node_id} at {w.url}" for w in self._workers.values())
                self._say(
                    f"{len(self._workers)} workers serving on "
                    f"http://{self._settings.host}:{self._settings.port} ({nodes})"
                )

    def _check_ready(self, worker: _Worker) -> None:
        if worker.ready:
            return
        if worker.url is None and worker.report.poll():
            try:
                worker.url = str(worker.report.recv())
            except EOFError:
                return
        if worker.url is not None and _answers(worker.url):
            worker.ready = True

    def _exited(self, worker: _Worker) -> int | None:
        """A worker exited by itself: restart it, or return the supervisor's exit code."""
        code = worker.process.exitcode
        spec = worker.spec
        if not worker.ready:
            self._say(
                f"worker {spec.index} (node {spec.node_id}) exited with {code} before it "
                "was ready (its log above says why); stopping"
            )
            return 1
        now = self._now()
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > 60:
            self._crashes.popleft()
        if len(self._crashes) > RESTARTS_PER_MINUTE:
            self._say(
                f"workers crashed {len(self._crashes)} times within a minute "
                f"(last: worker {spec.index}, exit {code}); stopping"
            )
            return 1
        again = spec.restarted()
        self._say(
            f"worker {spec.index} (node {spec.node_id}) exited with {code}; restarting it "
            f"as node {again.node_id} (the cluster treats {spec.node_id} as failed)"
        )
        self._all_ready = False
        self._start(again)
        return None

    def _stop(self) -> int:
        """SIGTERM every worker once (each drains), wait, then kill what is left."""
        settings = self._settings
        from openreplica.server.drain import HANDOVER_BOUND
        from openreplica.server.graceful import SHUTDOWN_CLOSE_GRACE

        bound = HANDOVER_BOUND + SHUTDOWN_CLOSE_GRACE + settings.webhook_shutdown_grace
        bound += STOP_SLACK
        alive = [w for w in self._workers.values() if w.process.exitcode is None]
        self._say(f"stopping {len(alive)} workers (draining, at most {bound:g} s)")
        for worker in alive:
            _signal(worker.process, signal.SIGTERM)
        forwarded = len(self._signals)
        deadline = self._now() + bound
        while any(w.process.exitcode is None for w in alive) and self._now() < deadline:
            wait([w.process.sentinel for w in alive], timeout=0.2)
            if len(self._signals) > forwarded:  # another signal: force
                forwarded = len(self._signals)
                for worker in alive:
                    _signal(worker.process, signal.SIGINT)
        for worker in alive:
            if worker.process.exitcode is None:
                self._say(f"worker {worker.spec.index} did not stop in time; killing it")
                _signal(worker.process, signal.SIGKILL)
                worker.process.join()
        # uvicorn re-raises the SIGTERM it handled once it has stopped: -15 is clean too
        failed = [w for w in alive if w.process.exitcode not in (0, -signal.SIGTERM)]
        for worker in failed:
            self._say(f"worker {worker.spec.index} stopped with {worker.process.exitcode}")
        return 1 if failed else 0


def _signal(process: BaseProcess, sig: signal.Signals) -> None:
    if process.pid is not None and process.exitcode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


def supervise(settings: ServerSettings) -> int:
    """`serve --workers N` (settings already checked)."""
    try:
        specs = worker_specs(settings, socket.gethostname())
        shared_listener(settings.host, settings.port).close()  # fail early: port taken
    except (SettingsError, OSError) as exc:
        print(f"openreplica serve: {exc}", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(f"openreplica supervisor: {line}", flush=True)

    return Supervisor(settings, specs, say=say).run()
