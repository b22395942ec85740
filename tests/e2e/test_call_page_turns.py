"""A spoken conversation in the call page: Chromium's fake microphone plays a WAV file of
synthetic speech (Piper) over WebRTC to a server listening with the real VAD, recogniser
and end-of-turn model (the replica's voice and LLM are scripted: instant). A complete
question commits through the model, well before the fixed silence would have; a sentence
with a mid-sentence pause is not cut at that pause.

Run it in a loopback-only namespace (see test_call_page.py). Chromium loops the file: only
the first turn counts.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromium import browser_context
from eventually import eventually
from server_process import free_port
from speech_set import RATE, Utterance, complete, hesitant
from turn_model import turn_model_path
from uvicorn_app import uvicorn_serving

from openreplica import protocol as p
from openreplica.engine import PAUSE_SILENCE, TURN_WAIT
from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.audio import resample
from openreplica.plugins.perception import build_perception
from openreplica.plugins.scripted import ScriptedTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.turn_smart import SmartTurnModel
from openreplica.plugins.vad_silero import SileroVAD
from openreplica.runtime import ConversationRuntime, RuntimePlugins
from openreplica.server.app import create_app
from openreplica.server.persona_config import ConversationConfig
from openreplica.server.plugin_factory import EchoingLLM
from openreplica.server.settings import ServerSettings

pytestmark = pytest.mark.e2e


class ListeningFactory:
    """Real VAD, ASR and end-of-turn model; scripted voice and LLM."""

    def __init__(self) -> None:
        self.vad, self.asr = SileroVAD(), PocketSphinxASR()
        self.asr.warm(1)
        self.turn = SmartTurnModel(turn_model_path())

    async def __call__(self, config: ConversationConfig) -> RuntimePlugins:
        plugins = RuntimePlugins(
            tts=ScriptedTTS(sample_rate=config.engine.output_sample_rate),
            llm=EchoingLLM(),
            perception=build_perception(config.perception),
        )
        plugins.vad, plugins.asr, plugins.turn = self.vad, self.asr, self.turn
        return plugins


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    voice = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    voice.load()
    return voice


@pytest.fixture
def user_turns(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, p.UtteranceProps]]:
    """(loop time, properties) of every user utterance any conversation commits."""
    seen: list[tuple[float, p.UtteranceProps]] = []
    original = ConversationRuntime.start

    async def start(self: ConversationRuntime) -> None:
        loop = asyncio.get_running_loop()

        def record(event: p.Event, _: Any) -> None:
            if isinstance(event, p.Utterance) and event.properties.role == "user":
                seen.append((loop.time(), event.properties))

        self.subscribe(record)
        await original(self)

    monkeypatch.setattr(ConversationRuntime, "start", start)
    return seen


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    settings = ServerSettings(host="127.0.0.1", port=port, data_dir=tmp_path / "data")
    app = create_app(settings, plugin_factory=ListeningFactory())
    async with uvicorn_serving(app, port, start_timeout=10) as url:
        yield url


def write_wav(path: Path, u: Utterance) -> None:
    """48 kHz mono 16-bit, as Chromium's fake capture wants it; 6 s of quiet after."""
    pcm = u.pcm + np.zeros(6 * RATE, dtype="<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(resample(pcm, RATE, 48000))


async def turn_ending(
    base: str,
    u: Utterance,
    last_word: str,
    tmp_path: Path,
    turns: list[tuple[float, p.UtteranceProps]],
) -> tuple[p.UtteranceProps, list[str]]:
    """The second committed turn that ends with `last_word` (the file's first play may
    start before the call is up, and is then heard only in part), and every turn heard."""
    import httpx

    wav = tmp_path / "mic.wav"
    write_wav(wav, u)
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        created = (await http.post("/v2/conversations", json={"properties": {}})).json()
    async with browser_context(
        tmp_path,
        extra_args=[f"--use-file-for-fake-audio-capture={wav}"],
        permissions=["microphone", "camera"],
    ) as browser:
        page = browser.pages[0] if browser.pages else await browser.new_page()
        await page.goto(created["conversation_url"])
        await page.wait_for_selector("#app[data-state=live]", timeout=30_000)

        def whole() -> p.UtteranceProps | None:
            ending = [x for _, x in turns if x.speech.endswith(last_word)]
            return ending[1] if len(ending) > 1 else None

        found = await eventually(whole, timeout=60, message=f"a user turn ending '{last_word}'")
    return found, [x.speech for _, x in turns]


async def test_a_spoken_question_commits_through_the_model_in_the_call_page(
    live_server: str, piper: PiperTTS, tmp_path: Path, user_turns: list[Any]
) -> None:
    u = await complete(piper, "piper", "Can you book a table for two tonight?")
    props, heard = await turn_ending(live_server, u, "tonight", tmp_path, user_turns)
    print(f"committed {props.speech!r} by {props.turn_decided_by} after {props.turn_wait} s")
    assert "table for two" in props.speech, heard
    assert props.turn_decided_by == "model"
    # the floor, or the recogniser's final pass when it comes later (a loaded machine)
    assert props.turn_wait is not None
    assert TURN_WAIT["medium"].floor - 0.01 <= props.turn_wait < TURN_WAIT["medium"].cap
    print(f"fixed silence would have waited {PAUSE_SILENCE['medium']} s")


async def test_a_mid_sentence_pause_in_the_call_page_is_not_cut(
    live_server: str, piper: PiperTTS, tmp_path: Path, user_turns: list[Any]
) -> None:
    u = await hesitant(
        piper,
        "piper",
        "Could you remind me to call my mother tomorrow?",
        "Could you remind me to",
        0.6,
    )
    props, heard = await turn_ending(live_server, u, "tomorrow", tmp_path, user_turns)
    print(f"committed {props.speech!r} by {props.turn_decided_by} after {props.turn_wait} s")
    # The 0.6 s pause after "to" never ends the turn. (A short dip inside a later word can
    # still be taken for the end now and then: the false cut-offs bench/voice.py counts,
    # 8-12 % of hesitant utterances, which this real-time test cannot pin down.)
    assert not any(turn.endswith("remind me to") for turn in heard), heard
    assert any("remind me to" in turn for turn in heard), heard
