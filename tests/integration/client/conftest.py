"""A real `openreplica serve` process on a free loopback port (one per test session),
the same server in the test's own process (`local_client`: for tests where a socket is
not the point), and a scripted OpenAI-compatible LLM per test
(`tests/support/stub_http.py`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventually import eventually_sync
from inprocess_app import InProcessClient
from stub_http import Handler, Reply, Request, StubServer, text_reply, tool_call_reply

from openreplica.client import ReplicaClient
from openreplica.server.app import create_app
from openreplica.server.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[3]
OPENREPLICA = str(Path(sys.executable).parent / "openreplica")
API_KEY = "client-tests-key"

LONG_REPLY = (
    "Once upon a time there was a small fox who lived at the edge of a very large "
    "forest and every single morning it walked down to the river to drink and to think."
)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    api_key: str
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENREPLICA_")}
    env.update(OPENREPLICA_DATA_DIR=str(data_dir), OPENREPLICA_API_KEY=API_KEY)
    return env


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("openreplica-client")
    port = free_port()
    log = home / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [OPENREPLICA, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(home / "data"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=home,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()}")
            try:
                return httpx.get(base + "/healthz", timeout=1, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(ready, timeout=30, message=lambda: f"server start: {log.read_text()}")
        yield LiveServer(base, API_KEY, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def client(live_server: LiveServer) -> AsyncIterator[ReplicaClient]:
    async with ReplicaClient(live_server.base_url, live_server.api_key) as c:
        yield c


@pytest.fixture
async def local_client(tmp_path: Path) -> AsyncIterator[ReplicaClient]:
    """The live server's configuration (real models, an API key), run in this process:
    REST over `ASGITransport`, conversations over `InProcessTransport`."""
    app = create_app(ServerSettings(data_dir=tmp_path / "data", api_key=API_KEY))
    async with app.router.lifespan_context(app), InProcessClient(app, API_KEY) as c:
        yield c


async def echo_conversation(client: ReplicaClient, **fields: Any) -> dict[str, Any]:
    persona = await client.create_persona(persona_name="echo", pipeline_mode="echo")
    return await client.create_conversation(persona_id=persona["persona_id"], **fields)


class ScriptedLLM:
    """An OpenAI-compatible chat endpoint whose answers depend on what it is asked:
    a tool message → "The tool said: …"; "weather" → a get_weather call; "explode" →
    an explode call; "long" → a long story; else "You said …"."""

    def __init__(self) -> None:
        self.server: StubServer | None = None
        self.calls = 0

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def requests(self) -> list[dict[str, Any]]:
        assert self.server is not None
        return [r.json() for r in self.server.requests]

    async def __call__(self, request: Request) -> Reply:
        messages: list[dict[str, Any]] = request.json()["messages"]
        last = messages[-1]
        self.calls += 1
        if last["role"] == "tool":
            return text_reply(f"The tool said: {last['content']}")
        said = str(last.get("content") or "")
        if "weather" in said:
            return tool_call_reply(f"call_w{self.calls}", "get_weather", '{"city": "Paris"}')
        if "explode" in said:
            return tool_call_reply(f"call_x{self.calls}", "explode", "{}")
        if "long" in said:
            return text_reply(LONG_REPLY)
        return text_reply(f"You said {said}")


TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("get_weather", "explode")
]


@pytest.fixture
async def llm(
    stub_server: Callable[[Handler], Awaitable[StubServer]],
) -> ScriptedLLM:
    scripted = ScriptedLLM()
    scripted.server = await stub_server(scripted)
    return scripted


async def llm_conversation(
    client: ReplicaClient, llm: ScriptedLLM, **fields: Any
) -> dict[str, Any]:
    persona = await client.create_persona(
        persona_name="assistant",
        system_prompt="You are a test assistant.",
        layers={"llm": {"base_url": llm.url, "model": "stub", "tools": TOOLS}},
    )
    return await client.create_conversation(persona_id=persona["persona_id"], **fields)
