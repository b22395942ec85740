"""A real `openreplica serve` process on a free loopback port, stopped by its pid.

It runs with `OPENREPLICA_TESTING_SCRIPTED_PLUGINS=1` (an instant tone TTS and an echoing
LLM: no models) and its own data directory. Used by tests/integration/server, the
browser tests in tests/e2e and the server benchmarks in bench/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eventually import eventually_sync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _reserved_port() -> socket.socket:
    """A socket bound to a free loopback port, held until the server is started: two
    servers made before either starts can never be given the same port (a port is free
    again once its probe socket closes, and the kernel may hand it out twice; the second
    server then fails to bind while /healthz answers from the first)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


@dataclass
class ServerProcess:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    #: 0: a free port, reserved from now until `start`
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    #: seconds `start` waits for /healthz (loading real models takes longer)
    ready_timeout: float = 30.0
    _reservation: socket.socket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.port == 0:
            self._reservation = _reserved_port()
            self.port = int(self._reservation.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, conversation_id: str, **query: object) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"ws://127.0.0.1:{self.port}/v2/conversations/{conversation_id}/ws" + (
            f"?{q}" if q else ""
        )

    def start(self) -> None:
        env = {
            **os.environ,
            "OPENREPLICA_DATA_DIR": str(self.data_dir),
            "OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "1",
            "OPENREPLICA_LOG_LEVEL": "warning",
            **self.env,
        }
        for name in ("OPENREPLICA_API_KEY", "OPENREPLICA_LLM_BASE_URL"):
            if name not in self.env:
                env.pop(name, None)
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "openreplica.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process, log = self.process, self.log

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}")
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(ready, timeout=self.ready_timeout, message="the server became ready")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self._reservation is not None:  # never started
            self._reservation.close()
            self._reservation = None
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text() if self.log else ""

    # ---------------------------------------------------------------- REST helpers

    def post(self, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        response = httpx.post(self.url + path, json=body if body is not None else {}, **kw)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        response = httpx.get(self.url + path, **kw)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def conversation(self, **body: Any) -> str:
        cid: str = self.post("/v2/conversations", body)["conversation_id"]
        return cid
