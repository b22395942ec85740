"""The call page tells the user, in plain words, when the replica cannot hear or answer,
and its peer connection uses the server's ICE servers. Real Chromium (see
test_call_page.py for the set-up it needs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromium import browser_context
from server_process import free_port
from uvicorn_app import uvicorn_serving

from openreplica.plugins.scripted import ScriptedTTS
from openreplica.runtime import RuntimePlugins
from openreplica.server.app import create_app
from openreplica.server.persona_config import ConversationConfig
from openreplica.server.settings import ServerSettings
from openreplica.transports.webrtc_settings import parse_ice_servers

pytestmark = pytest.mark.e2e

ICE = [{"urls": ["stun:127.0.0.1:3478"]}, {"urls": ["turn:127.0.0.1:3478"], "username": "u",
       "credential": "c"}]  # fmt: skip


async def no_llm_no_ears(config: ConversationConfig) -> RuntimePlugins:
    """What a server with no LLM and no voice input builds: a voice only."""
    return RuntimePlugins(tts=ScriptedTTS(sample_rate=config.engine.output_sample_rate))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    settings = ServerSettings(
        host="127.0.0.1",
        port=port,
        data_dir=tmp_path / "data",
        webrtc_ice_servers=parse_ice_servers(json.dumps(ICE)),
    )
    app = create_app(settings, plugin_factory=no_llm_no_ears)
    async with uvicorn_serving(app, port) as url:
        yield url


async def test_a_replica_that_cannot_answer_or_hear_says_so_kindly(
    server: str, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        persona = (await http.post("/v2/personas", json={"persona_name": "Mute"})).json()
        assert "openreplica models pull" in persona["warnings"][0]  # the operator's guidance
        created = (
            await http.post("/v2/conversations", json={"persona_id": persona["persona_id"]})
        ).json()
        before = (await http.get(f"/c/{created['conversation_id']}/config")).json()
    assert before == {"ice_servers": ICE, "listening": None, "answering": False}

    async with browser_context(tmp_path, permissions=["microphone", "camera"]) as browser:
        page = browser.pages[0] if browser.pages else await browser.new_page()
        await page.goto(created["conversation_url"])
        await page.wait_for_selector("#app[data-state=live]", timeout=20_000)
        ice: Any = await page.evaluate("() => window.openreplicaCall.options.iceServers")
        assert ice == ICE

        notice = page.locator("#notice")
        await notice.wait_for(state="visible", timeout=10_000)
        await page.wait_for_function(
            """() => document.getElementById("notice").textContent.includes("can't hear")""",
            timeout=10_000,
        )
        assert "can't answer yet" in await notice.inner_text()
        assert await page.locator("#transcript-empty").inner_text() == "Type a message below."

        # A typed question: the server's llm_unavailable error (an operator's message)
        # arrives, and the user still sees only the friendly state.
        await page.evaluate(
            """() => { window.errors = [];
              window.openreplicaCall.on("app-message", ({ data }) => {
                if (data.event_type === "system.error") window.errors.push(data.properties);
              }); }"""
        )
        await page.fill("#message", "Hello there")
        await page.press("#message", "Enter")
        await page.wait_for_selector(".msg.user >> text=Hello there", timeout=10_000)
        await page.wait_for_function("() => window.errors.length > 0", timeout=10_000)
        [error] = await page.evaluate("() => window.errors")
        assert error["code"] == "llm_unavailable" and "OPENREPLICA_" in error["message"]
        body = await page.inner_text("body")
        assert "OPENREPLICA_" not in body and "layers.llm" not in body
        assert await page.locator("#toast").is_hidden()
        await page.screenshot(path=str(tmp_path / "cannot-answer.png"))
