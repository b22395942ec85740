"""A photo replica over real WebRTC (aiortc): its lips take each viseme's shape while
speaking, and it is at rest within 80 ms (of video time) of an interrupt and stays so while
the cut utterance's last audio plays out."""

from __future__ import annotations

import json

import numpy as np
from eventually import eventually
from face_models import load_face_models
from requires import require_module

from openreplica.plugins.avatar.photo import PhotoAvatar
from openreplica.plugins.visemes import VISEMES
from openreplica.protocol import Event, ReplicaStoppedSpeaking

from .test_media import viseme_call

skimage_data = require_module("skimage.data", "pip install scikit-image")
REST = VISEMES.index("rest")


async def test_photo_replica_lips_follow_visemes_and_rest_on_interrupt() -> None:
    avatar = PhotoAvatar(np.asarray(skimage_data.astronaut(), np.uint8), load_face_models())
    async with viseme_call("photo", avatar) as (peer, _pc, frames, dc):
        assert peer.video is not None
        rendered: list[tuple[float, np.ndarray]] = []  # (media time, viseme weights) per frame
        stream = peer.video.stream
        original = stream.render_visemes  # type: ignore[attr-defined]

        def spy(t: float, weights: np.ndarray) -> np.ndarray:
            rendered.append((t, weights.copy()))
            return original(t, weights)  # type: ignore[no-any-return]

        stream.render_visemes = spy  # type: ignore[attr-defined]

        await eventually(lambda: len(rendered) > 0, timeout=10, message="the face rendering")
        text = " ".join(["ba"] * 20)
        dc.send(json.dumps({"event_type": "conversation.echo", "properties": {"text": text}}))

        def shown() -> set[str]:
            return {VISEMES[int(np.argmax(w))] for _, w in rendered[-40:]}

        await eventually(
            lambda: {"mbp", "aa"} <= shown(),
            timeout=10,
            message=f"lips showing both m/b/p and aa (last: {shown()})",
        )
        received = len(frames)
        # Measured on the video's own clock (each frame's media time), from the first
        # frame rendered after the runtime said the replica stopped speaking: machine
        # load delays frames, it does not change what they show.
        stopped_at: list[int] = []  # index in `rendered` of the first frame after

        def on_event(event: Event, _data: bytes) -> None:
            if isinstance(event, ReplicaStoppedSpeaking) and not stopped_at:
                stopped_at.append(len(rendered))

        unsubscribe = peer.runtime.subscribe(on_event)
        dc.send(json.dumps({"event_type": "conversation.interrupt"}))
        await eventually(lambda: stopped_at, timeout=5, message="replica.stopped_speaking")
        unsubscribe()
        # half a second of video after it: longer than the cut utterance's audio still
        # queued for the audio track (a few frames and the resampler's tail)
        await eventually(
            lambda: (
                len(rendered) > stopped_at[0]
                and rendered[-1][0] - rendered[stopped_at[0]][0] >= 0.5
            ),
            timeout=5,
            message="half a second of video after the interrupt",
        )
        after = rendered[stopped_at[0] :]
        first = after[0][0]
        resting = [t for t, w in after if w[REST] == 1.0]
        assert resting, "the face never came to rest after the interrupt"
        assert resting[0] - first <= 0.08, f"at rest {1000 * (resting[0] - first):.0f} ms after"
        moved = [
            (round(1000 * (t - first)), VISEMES[int(np.argmax(w))])
            for t, w in after
            if t > resting[0] and w[REST] != 1.0
        ]
        assert not moved, f"lips moved after coming to rest (ms after, shape): {moved}"
        # video keeps flowing to the client
        await eventually(lambda: len(frames) > received + 5, timeout=5, message="video frames")
