"""Call recordings over real WebRTC (SPEC §5, §6 [added]): a call with
`enable_recording: true` gives one WebM file (replica audio and video, the user's audio,
mixed) whose duration, tracks and audio are checked by decoding it with PyAV, announced by
the `application.recording_ready` webhook and deleted with the conversation."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import numpy as np
import pytest
from eventually import eventually
from stub_http import Handler, Reply, Request, StubServer

from .conftest import Join, Server
from .test_media import ToneTrack

StartStub = Callable[[Handler], Awaitable[StubServer]]
REPLICA_HZ, USER_HZ = 220.0, 440.0  # the scripted TTS's tone, the test microphone's


def _level_at(samples: np.ndarray, rate: int, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) / samples.size
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = (freqs > hz - 5) & (freqs < hz + 5)
    return float(spectrum[band].max())


class Microphone(ToneTrack):
    """A steady 440 Hz tone (phase-continuous across frames, so it is one spectral line)."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        t = (np.arange(960) + (frame.pts or 0)) / 48000
        pcm = (0.4 * 32767 * np.sin(2 * np.pi * USER_HZ * t)).astype("<i2")
        frame.planes[0].update(pcm.tobytes())
        return frame


async def test_a_recorded_call_is_one_mixed_webm_announced_and_deleted(
    server: Server, join: Join, stub_server: StartStub, tmp_path: Path
) -> None:
    webhooks: list[dict[str, object]] = []

    async def receive(request: Request) -> Reply:
        webhooks.append(request.json())
        return Reply(status=204)

    receiver = await stub_server(receive)
    conversation = await server.create(
        callback_url=receiver.url + "/hook",
        custom_greeting="one two three four five six seven eight",
        properties={"enable_recording": True, "participant_left_timeout": 0},
    )
    cid = conversation["conversation_id"]
    early = await server.http.get(f"/v2/conversations/{cid}/recording")
    assert early.status_code == 404 and "not ready" in early.json()["error"]

    microphone = Microphone()
    client = await join(cid, tracks=(microphone,))
    joined = await client.wait_event("system.replica_joined")
    await client.wait_event("conversation.replica.stopped_speaking")  # 8 words, 1.6 s
    sent = microphone._pts
    # a second more of the user's voice alone
    await eventually(lambda: microphone._pts >= sent + 48000, timeout=10, message="user audio")
    assert (await server.http.post(f"/v2/conversations/{cid}/end")).status_code == 200
    shutdown = await client.wait_event("system.shutdown")
    call_seconds = shutdown["timestamp"] - joined["timestamp"]

    async with asyncio.timeout(20):
        while not any(w["event_type"] == "application.recording_ready" for w in webhooks):
            await asyncio.sleep(0.05)
    kinds = [w["event_type"] for w in webhooks]
    assert kinds.index("application.recording_ready") > kinds.index("system.shutdown")
    ready = next(w for w in webhooks if w["event_type"] == "application.recording_ready")
    properties = ready["properties"]
    assert isinstance(properties, dict)
    assert properties["recording_url"] == f"http://127.0.0.1:8000/v2/conversations/{cid}/recording"
    duration = float(properties["duration"])
    assert call_seconds - 0.3 <= duration <= call_seconds + 0.6, (duration, call_seconds)

    response = await server.http.get(f"/v2/conversations/{cid}/recording")
    assert response.status_code == 200 and response.headers["content-type"] == "video/webm"
    with av.open(io.BytesIO(response.content), mode="r") as container:
        assert container.format.name.startswith("matroska")
        (audio_stream,) = container.streams.audio
        (video_stream,) = container.streams.video
        assert (audio_stream.codec_context.name, video_stream.codec_context.name) == (
            "opus",
            "vp8",
        )
        audio: list[np.ndarray] = []
        frames: list[np.ndarray] = []
        for frame in container.decode(audio_stream, video_stream):
            if isinstance(frame, av.AudioFrame):
                audio.append(frame.to_ndarray().reshape(-1))
                rate = frame.sample_rate
            elif isinstance(frame, av.VideoFrame):
                frames.append(frame.to_ndarray(format="gray"))
    samples = np.concatenate(audio).astype(np.float64)
    if samples.dtype.kind != "f" and np.abs(samples).max() > 1.5:
        samples /= 32768.0
    assert samples.size / rate == pytest.approx(duration, abs=0.1)
    # both voices are in the one mixed track, clearly above the noise floor
    floor = _level_at(samples, rate, 1000.0)
    assert _level_at(samples, rate, REPLICA_HZ) > 0.02 > 10 * floor
    assert _level_at(samples, rate, USER_HZ) > 0.02
    # the face: 10 frames a second, 384x384, and it moved (blinks, mouth)
    assert len(frames) == pytest.approx(duration * 10, abs=2)
    assert frames[0].shape == (384, 384)
    assert max(float(np.abs(f.astype(int) - frames[0]).mean()) for f in frames) > 0.5

    stored = server.app.state.hub.recordings.ready(cid)
    assert stored is not None and stored.read_bytes() == response.content
    assert (await server.http.delete(f"/v2/conversations/{cid}")).status_code == 204
    assert not stored.exists()


@pytest.mark.parametrize("server", [{"recording_max_bytes": 1}], indirect=True)
async def test_a_spent_disk_budget_is_a_clear_error_and_the_call_goes_on(
    server: Server, join: Join
) -> None:
    old = server.app.state.hub.recordings.settings.directory / "cold.webm"
    old.write_bytes(b"x" * 10)  # the budget is already used
    conversation = await server.create(properties={"enable_recording": True})
    cid = conversation["conversation_id"]
    client = await join(cid)
    error = await client.wait_event("system.error")
    assert error["properties"]["code"] == "recording_unavailable"
    assert "disk budget" in error["properties"]["message"]
    client.send({"event_type": "conversation.echo", "properties": {"text": "still here"}})
    await client.wait_event("conversation.utterance")
    await server.http.post(f"/v2/conversations/{cid}/end")
    response = await server.http.get(f"/v2/conversations/{cid}/recording")
    assert response.status_code == 404
    assert "disk budget" in json.loads(response.content)["error"]


async def test_a_recording_left_by_a_dead_process_is_cleared_with_its_reason(
    tmp_path: Path,
) -> None:
    from openreplica.plugins.avatar.catalog import AvatarCatalog
    from openreplica.runtime import SystemClock
    from openreplica.server.recordings import Recordings, RecordingSettings

    directory = tmp_path / "recordings"
    directory.mkdir()
    (directory / "c1.webm.part").write_bytes(b"half a file")
    recordings = Recordings(
        RecordingSettings(directory), SystemClock(), AvatarCatalog(tmp_path / "replicas")
    )
    assert not (directory / "c1.webm.part").exists() and recordings.ready("c1") is None
    assert recordings.failure("c1") == "the server stopped while this call was being recorded"
    assert recordings.used_bytes() < 100
