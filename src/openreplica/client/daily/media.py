"""Media between the virtual devices and WebRTC (aiortc and PyAV, imported when a call
starts, like the WebRTC transport itself).

- `microphone_track`: an outgoing audio track that sends 20 ms frames in real time,
  taken from whichever microphone device the call has selected (silence when none).
- `pump_audio`: reads the replica's audio track and hands it, converted to the selected
  speaker's rate and channel count, to that speaker.
- `drain`: reads a track and drops its frames (received video), so that nothing piles up.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable
from typing import Any

from openreplica.client.daily.devices import VirtualMicrophoneDevice, VirtualSpeakerDevice

__all__ = ["FRAME_SECONDS", "drain", "microphone_track", "pump_audio"]

FRAME_SECONDS = 0.02


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def microphone_track(
    device: Callable[[], VirtualMicrophoneDevice | None], sample_rate: int, channels: int
) -> Any:
    """An aiortc audio track at `sample_rate`/`channels` fed by `device()` (looked up per
    frame, so `update_inputs` can switch it on and off). A device of another format is
    not read (the call sends silence): the track's format is fixed when the call starts."""
    import av
    from aiortc.mediastreams import MediaStreamTrack

    samples = round(sample_rate * FRAME_SECONDS)
    time_base = fractions.Fraction(1, sample_rate)

    class MicrophoneTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._pts = 0
            self._start: float | None = None

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            delay = self._start + self._pts / sample_rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            source = device()
            if source is not None and (source.sample_rate, source.channels) == (
                sample_rate,
                channels,
            ):
                pcm = source.take(samples)
            else:
                pcm = bytes(samples * 2 * channels)
            frame = av.AudioFrame(format="s16", layout=_layout(channels), samples=samples)
            frame.planes[0].update(pcm)
            frame.sample_rate = sample_rate
            frame.pts = self._pts
            frame.time_base = time_base
            self._pts += samples
            return frame

    return MicrophoneTrack()


async def pump_audio(
    track: Any,
    speaker: Callable[[], VirtualSpeakerDevice | None],
    subscribed: Callable[[], bool],
    on_first_frame: Callable[[], None],
) -> None:
    """Until the track ends: every received frame to the selected speaker, if any and if
    the app is subscribed to the replica's microphone."""
    import av
    from aiortc.mediastreams import MediaStreamError

    resamplers: dict[tuple[int, int], Any] = {}
    first = True
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if first:
            first = False
            on_first_frame()
        device = speaker()
        if device is None or not subscribed():
            continue
        key = (device.sample_rate, device.channels)
        if key not in resamplers:
            resamplers[key] = av.AudioResampler(
                format="s16", layout=_layout(device.channels), rate=device.sample_rate
            )
        for out in resamplers[key].resample(frame):
            size = out.samples * device.bytes_per_frame
            device.deliver(bytes(out.planes[0])[:size])


async def drain(track: Any, on_first_frame: Callable[[], None]) -> None:
    from aiortc.mediastreams import MediaStreamError

    first = True
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        if first:
            first = False
            on_first_frame()
