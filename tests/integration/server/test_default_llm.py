"""A language model by default: `openreplica models pull` saves a model the server then
answers with, with no variable; a persona that cannot answer says so in REST.

A local HTTP server stands in for the model hub (it announces the file's sha256 as
Hugging Face does); the model is the tiny GGUF built at test time, which says SENTENCE
whatever it is asked, through the real llama.cpp path.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tiny_gguf import SENTENCE, build_tiny_gguf

from openreplica.client import ReplicaClient
from openreplica.model_downloads import DEFAULT_MODEL

from .conftest import ServerProcess, free_port


@pytest.fixture
def model_hub(tmp_path: Path) -> Iterator[str]:
    """Serves the tiny GGUF under the default model's file name."""
    model = tmp_path / "hub.gguf"
    build_tiny_gguf(model)
    body = model.read_bytes()
    digest = hashlib.sha256(body).hexdigest()

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("X-Linked-Etag", f'"{digest}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{DEFAULT_MODEL.filename}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


async def test_a_pulled_model_answers_with_no_variable(model_hub: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"OPENREPLICA_DATA_DIR": str(data)}
    pulled = subprocess.run(
        [sys.executable, "-m", "openreplica.cli", "models", "pull", "--url", model_hub],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == str(data / "models" / DEFAULT_MODEL.filename)
    assert "`openreplica serve` uses it" in pulled.stderr

    server = ServerProcess(data, env={"OPENREPLICA_TESTING_SCRIPTED_PLUGINS": "0"})
    server.start()
    try:
        async with ReplicaClient(server.url) as client:
            persona = await client.create_persona(persona_name="Thinker")
            assert "warnings" not in persona  # it can answer
            info = await client.create_conversation(persona_id=persona["persona_id"])
            conv = await client.connect(info)
            try:
                turn = await conv.ask("Hello, who are you?")
                replies = [u.text for u in turn.replies]
                assert [r.strip() for r in replies] == [SENTENCE]
            finally:
                await conv.close()
    finally:
        server.stop()


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("OPENREPLICA_")}


def test_a_persona_that_cannot_answer_says_so(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")  # no LLM configured, none pulled
    server.start()
    try:
        created = server.post("/v2/personas", {"persona_name": "Mute"})
        [warning] = created["warnings"]
        assert "cannot answer" in warning and "openreplica models pull" in warning
        read = server.get(f"/v2/personas/{created['persona_id']}")
        assert read["warnings"] == created["warnings"]
        listed = server.get("/v2/personas")["data"]
        assert all("warnings" not in p for p in listed)  # reads one by one only

        echo = server.post("/v2/personas", {"pipeline_mode": "echo", "warnings": ["mine"]})
        assert "warnings" not in echo  # echo needs no LLM; a sent `warnings` is not kept

        closed = f"http://127.0.0.1:{free_port()}/v1"
        unreachable = server.post("/v2/personas", {"layers": {"llm": {"base_url": closed}}})
        assert any(f"{closed} is not reachable" in w for w in unreachable["warnings"])

        bad_engine = server.post("/v2/personas", {"layers": {"tts": {"tts_engine": "cartesia"}}})
        assert any("cartesia" in w for w in bad_engine["warnings"])
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()
