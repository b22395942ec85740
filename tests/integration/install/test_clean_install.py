"""`pip install openreplica` alone gives a replica that hears a spoken turn.

A fresh venv (no pip, no system site-packages) gets the project's wheel with
`pip install --no-deps --no-index`; its runtime dependencies come from the test
environment's site-packages, every package except `silero-vad` (which only
`scripts/setup` installs) and the editable openreplica. The wheel's own `openreplica
serve` runs from that venv, logs that it listens with webrtcvad, and a Piper-spoken
question sent as a WebRTC microphone comes back as the user's utterance and is answered.

About 10 s beyond the conversation itself: the wheel is built once with
`--no-build-isolation` (no network), the dependencies are symlinked, not installed.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from aiortc.mediastreams import MediaStreamTrack
from eventually import eventually, eventually_sync
from stub_http import Reply, Request, text_reply

from openreplica.client import ReplicaClient
from openreplica.client.webrtc import WebRTCTransport
from openreplica.plugins.audio import resample, silence
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.transports.webrtc import enable_loopback_candidates

ROOT = Path(__file__).resolve().parents[3]
QUESTION = "What is the weather like in London today?"
RATE = 48000
FRAME = 960  # 20 ms


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This environment without anything that would point Python at the source tree."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENREPLICA_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }


def _run(*cmd: str | Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_clean_env(),
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _dependency_dir(into: Path) -> Path:
    """The test environment's packages minus silero-vad and openreplica, as symlinks."""
    into.mkdir()
    left_out = ("silero_vad", "openreplica", "__editable__", "_openreplica")
    for source in site.getsitepackages():
        for entry in Path(source).iterdir():
            if entry.name.lower().startswith(left_out) or entry.suffix == ".pth":
                continue
            target = into / entry.name
            if not target.exists():
                target.symlink_to(entry)
    return into


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("clean-install")
    wheels = home / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        wheels,
        ROOT,
    )
    venv = home / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    deps = _dependency_dir(home / "deps")
    (purelib / "runtime-deps.pth").write_text(f"{deps}\n")
    wheel = next(wheels.glob("openreplica-*.whl"))
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        wheel,
    )
    where = _run(
        python,
        "-c",
        "import importlib.util, openreplica; "
        "print(importlib.util.find_spec('silero_vad'), openreplica.__file__)",
    )
    assert where.startswith("None ") and str(purelib) in where, where
    return venv


@pytest.fixture(scope="module")
def spoken_question() -> bytes:
    """The question at 48 kHz mono, as a browser microphone would send it."""
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def synth() -> bytes:
        return b"".join([c.pcm async for c in tts.synthesize(QUESTION)])

    speech = resample(asyncio.run(synth()), tts.sample_rate, RATE)
    return silence(RATE // 2) + speech + silence(3 * RATE)


class Microphone(MediaStreamTrack):
    """Plays `pcm` in real time (20 ms frames), then silence."""

    kind = "audio"

    def __init__(self, pcm: bytes) -> None:
        super().__init__()
        self._pcm = pcm
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + self._pts / RATE - loop.time()))
        chunk = self._pcm[2 * self._pts : 2 * (self._pts + FRAME)]
        chunk = chunk + silence(FRAME - len(chunk) // 2)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk)
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


@pytest.fixture
def installed_server(clean_venv: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log = tmp_path / "server.log"
    env = _clean_env()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                clean_venv / "bin" / "openreplica",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                tmp_path / "data",
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            assert proc.poll() is None, f"the server exited: {log.read_text()}"
            try:
                return httpx.get(base + "/healthz", timeout=1, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(healthy, timeout=60, message=lambda: f"server start: {log.read_text()}")
        yield base, log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_plain_pip_install_hears_a_spoken_turn_over_webrtcvad(
    installed_server: tuple[str, Path], spoken_question: bytes, stub_server: Any
) -> None:
    base, log = installed_server

    async def llm(request: Request) -> Reply:
        return text_reply("It is sunny in London.")

    model = await stub_server(llm)
    enable_loopback_candidates()
    async with ReplicaClient(base) as client:
        persona = await client.create_persona(
            persona_name="Listener", layers={"llm": {"base_url": model.url, "model": "stub"}}
        )
        info = await client.create_conversation(persona_id=persona["persona_id"])
        link = WebRTCTransport(client.target(info), microphone=Microphone(spoken_question))
        conv = await client.connect(info, transport=link)
        try:

            def said(role: str) -> list[str]:
                return [u.text for u in conv.utterances if u.role == role and u.text]

            heard = await eventually(
                lambda: said("user"), timeout=30, message="the spoken turn was heard"
            )
            assert any(w in heard[0].lower() for w in ("weather", "london", "today")), heard
            answer = await eventually(lambda: said("replica"), timeout=30, message="an answer")
            assert answer == ["It is sunny in London."]
        finally:
            await conv.close()
    text = log.read_text()
    assert "voice activity detection: webrtcvad" in text, text
    assert "pip install --no-deps silero-vad" in text
