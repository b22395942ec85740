"""The daily-python-shaped client against a real server over WebRTC: app messages both
ways, participants, the replica's voice read from a virtual speaker, and Piper speech
written to a virtual microphone heard as the user's turn."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from eventually import eventually_sync

from openreplica.client import ReplicaClient
from openreplica.client.daily import CallClient, Daily, EventHandler
from openreplica.transports.webrtc import enable_loopback_candidates

from .conftest import ROOT, LiveServer, ScriptedLLM, llm_conversation, server_env

EXAMPLES = ROOT / "examples"

RATE = 16000
CALLBACK_THREAD = "openreplica-daily-callbacks"


class Recorder(EventHandler):
    """Every callback, with the thread it ran on; `wait` polls with a deadline."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def _record(self, name: str, *args: Any) -> None:
        with self._cond:
            self.calls.append((name, args))
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def on_app_message(self, message: Any, sender: str) -> None:
        self._record("app_message", message, sender)

    def on_call_state_updated(self, state: str) -> None:
        self._record("state", state)

    def on_participant_joined(self, participant: Any) -> None:
        self._record("joined", participant)

    def on_participant_left(self, participant: Any, reason: str) -> None:
        self._record("left", participant, reason)

    def on_participant_updated(self, participant: Any) -> None:
        self._record("updated", participant)

    def on_error(self, message: str) -> None:
        self._record("error", message)

    def wait(self, name: str, match: Callable[..., bool], timeout: float = 30.0) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call, args in self.calls:
                    if call == name and match(*args):
                        return args
                left = deadline - time.monotonic()
                assert left > 0, f"no {name} callback matched in {timeout} s: {self.calls}"
                self._cond.wait(left)

    def states(self) -> list[str]:
        with self._cond:
            return [args[0] for call, args in self.calls if call == "state"]

    def event(self, event_type: str, **props: Any) -> Callable[..., bool]:
        def match(message: Any, _sender: str) -> bool:
            if not isinstance(message, dict) or message.get("event_type") != event_type:
                return False
            got = message.get("properties") or {}
            return all(got.get(k) == v for k, v in props.items())

        return match


class Completion:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.args: tuple[Any, ...] = ()
        self.thread = ""

    def __call__(self, *args: Any) -> None:
        self.args, self.thread = args, threading.current_thread().name
        self.done.set()

    def result(self, timeout: float = 30.0) -> tuple[Any, ...]:
        assert self.done.wait(timeout), "the completion was never called"
        return self.args


@pytest.fixture
def daily(live_server: LiveServer) -> Iterator[type[Daily]]:
    # aioice leaves 127.0.0.1 out of the host candidates; in the loopback-only test
    # namespace it is the only address there is
    enable_loopback_candidates()
    Daily.init(server_url=live_server.base_url, api_key=live_server.api_key)
    yield Daily
    Daily.deinit()


def create(live: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        live.base_url + path, json=body, headers={"x-api-key": live.api_key}, trust_env=False
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def voiced_span(pcm: bytes, threshold: float = 400.0) -> tuple[float, float]:
    """(seconds from the first to the last 20 ms window louder than `threshold` RMS,
    seconds of such windows)."""
    samples = np.frombuffer(pcm, np.int16).astype(np.float64)
    window = RATE // 50
    count = len(samples) // window
    rms = np.sqrt((samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > threshold)
    if len(loud) == 0:
        return 0.0, 0.0
    return (loud[-1] - loud[0] + 1) / 50, len(loud) / 50


def test_app_messages_participants_and_the_replicas_voice(
    daily: type[Daily], live_server: LiveServer
) -> None:
    persona = create(live_server, "/v2/personas", {"persona_name": "Echo", "pipeline_mode": "echo"})
    info = create(live_server, "/v2/conversations", {"persona_id": persona["persona_id"]})
    speaker = daily.create_speaker_device("test-speaker", sample_rate=RATE, channels=1)
    daily.select_speaker_device("test-speaker")
    handler = Recorder()
    client = CallClient(event_handler=handler)
    try:
        joined = Completion()
        client.join(info["conversation_url"], completion=joined)
        data, error = joined.result()
        assert error is None and joined.thread == CALLBACK_THREAD
        assert data["meetingSession"]["id"] == info["conversation_id"]

        participants = client.participants()
        assert participants["local"]["info"]["isLocal"] is True
        (replica_id,) = [k for k in participants if k != "local"]
        replica = participants[replica_id]
        assert replica["id"] == replica_id and replica["info"]["isLocal"] is False
        assert replica["info"]["userId"].startswith("tavus-replica")
        assert replica["info"]["userName"]
        assert set(replica["media"]) == {"camera", "microphone", "screenVideo", "screenAudio"}
        assert data["participants"][replica_id]["info"]["userId"] == replica["info"]["userId"]
        handler.wait("joined", lambda p: p["id"] == replica_id)
        handler.wait("updated", lambda p: p["media"]["microphone"]["state"] == "playable")
        assert handler.states()[:2] == ["joining", "joined"]

        # the replica's voice, read from the speaker as it plays
        heard = bytearray()
        stop = threading.Event()

        def listen() -> None:
            while not stop.is_set():
                heard.extend(speaker.read_frames(RATE // 50))

        reader = threading.Thread(target=listen, name="test-speaker-reader")
        reader.start()
        text = "Hello from a daily python client."
        sent = Completion()
        client.send_app_message(
            {
                "message_type": "conversation",
                "event_type": "conversation.echo",
                "conversation_id": info["conversation_id"],
                "properties": {"text": text},
            },
            completion=sent,
        )
        assert sent.result() == (None,)
        message, sender = handler.wait(
            "app_message", handler.event("conversation.utterance", role="replica", speech=text)
        )
        assert sender == replica_id and message["conversation_id"] == info["conversation_id"]
        stopped, _ = handler.wait(
            "app_message", handler.event("conversation.replica.stopped_speaking")
        )
        duration = float(stopped["properties"]["duration"])
        # keep reading until half a second of audio past the end has arrived
        target = len(heard) + RATE  # bytes: 0.5 s of 16-bit mono
        eventually_sync(
            lambda: len(heard) >= target, timeout=10, interval=0.02, message="audio past the end"
        )
        stop.set()
        reader.join(5)
        span, voiced = voiced_span(bytes(heard))
        assert duration > 0.5
        assert abs(span - duration) < 0.4, (span, duration)
        assert voiced > duration / 2, (voiced, duration)

        # a message to someone not in the call is refused by its completion
        refused = Completion()
        client.send_app_message({"event_type": "x"}, participant_id="nobody", completion=refused)
        assert "nobody" in refused.result()[0]
        # a bad interaction reaches the server, which answers with system.error
        client.send_app_message({"message_type": "conversation", "event_type": "nope"})
        error_msg, _ = handler.wait("app_message", handler.event("system.error"))
        assert error_msg["properties"]["code"] == "unknown_event_type"

        left = Completion()
        client.leave(completion=left)
        assert left.result() == (None,)
        handler.wait("left", lambda p, reason: p["id"] == replica_id and reason == "leftCall")
        assert handler.states()[-2:] == ["leaving", "left"]
        assert list(client.participants()) == ["local"]
        assert handler.threads == {CALLBACK_THREAD}
    finally:
        client.release()


QUESTION = "What is the weather like in London today?"


def piper_speech(text: str) -> bytes:
    from openreplica.plugins.audio import resample
    from openreplica.plugins.tts_piper import PiperTTS

    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    tts.load()

    async def run() -> bytes:
        return b"".join([c.pcm async for c in tts.synthesize(text)])

    return resample(asyncio.run(run()), tts.sample_rate, RATE)


async def test_the_virtual_microphone_is_heard_as_a_user_turn(
    daily: type[Daily], live_server: LiveServer, client: ReplicaClient, llm: ScriptedLLM
) -> None:
    info = await llm_conversation(client, llm)
    speech = await asyncio.to_thread(piper_speech, QUESTION)
    padded = bytes(RATE // 2 * 2) + speech + bytes(RATE * 2 * 2)  # 0.5 s before, 2 s after
    mic = daily.create_microphone_device("test-mic", sample_rate=RATE, channels=1)

    def talk() -> tuple[dict[str, Any], Recorder]:
        handler = Recorder()
        call = CallClient(event_handler=handler)
        try:
            joined = Completion()
            call.join(
                info["conversation_url"],
                meeting_token=info.get("meeting_token"),
                client_settings={
                    "inputs": {
                        "camera": False,
                        "microphone": {"isEnabled": True, "settings": {"deviceId": "test-mic"}},
                    }
                },
                completion=joined,
            )
            assert joined.result()[1] is None
            local = call.participants()["local"]
            assert local["media"]["microphone"]["state"] == "playable"
            chunk = RATE // 10 * 2  # 100 ms, written as daily-python's demos do
            started = time.monotonic()
            written = sum(
                mic.write_frames(padded[i : i + chunk]) for i in range(0, len(padded), chunk)
            )
            # the last chunk is padded to whole 10 ms, as daily-python's blocking mic does
            assert written == -(-len(padded) // 2 // (RATE // 100)) * (RATE // 100)
            # a blocking microphone paces writes in real time
            assert time.monotonic() - started > 0.8 * len(padded) / 2 / RATE
            message, _ = handler.wait(
                "app_message", handler.event("conversation.utterance", role="user"), 30
            )
            return dict(message["properties"]), handler
        finally:
            call.release()

    properties, handler = await asyncio.to_thread(talk)
    said = str(properties["speech"])
    assert {"weather", "london"} & set(said.lower().split()), said
    # how the turn sounded, measured from the audio the server heard (SPEC §1.2)
    heard = properties["user_audio_analysis"]
    wpm = int(re.search(r"about (\d+) words per minute", heard)[1])  # type: ignore[index]
    hz = int(re.search(r"around (\d+) Hz", heard)[1])  # type: ignore[index]
    assert 60 <= wpm <= 300 and 70 <= hz <= 400, heard
    handler.wait("app_message", handler.event("conversation.user.started_speaking"), 1)


def test_the_daily_bot_example_runs_as_ported(live_server: LiveServer, tmp_path: Path) -> None:
    recording = tmp_path / "replica.wav"
    # the example as a user runs it, plus the loopback ICE candidates the test namespace
    # needs (aioice leaves 127.0.0.1 out)
    launcher = (
        "import runpy, sys; "
        "from openreplica.transports.webrtc import enable_loopback_candidates; "
        "enable_loopback_candidates(); sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    env = server_env(tmp_path) | {
        "OPENREPLICA_API_KEY": live_server.api_key,
        "OPENREPLICA_URL": live_server.base_url,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            launcher,
            str(EXAMPLES / "daily_bot.py"),
            "--echo",
            "--say",
            "Ported in two lines.",
            "--record",
            str(recording),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replica: Ported in two lines." in done.stdout
    with wave.open(str(recording), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        pcm = wav.readframes(wav.getnframes())
    assert voiced_span(pcm)[1] > 0.5
