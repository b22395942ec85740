"""A photo replica over real WebRTC (aiortc): its lips take each viseme's shape while
speaking, and it is at rest within 80 ms of an interrupt."""

from __future__ import annotations

import json
import time

import numpy as np
from eventually import eventually
from face_models import load_face_models
from requires import require_module

from openreplica.plugins.avatar.photo import PhotoAvatar
from openreplica.plugins.visemes import VISEMES

from .test_media import viseme_call

skimage_data = require_module("skimage.data", "pip install scikit-image")
REST = VISEMES.index("rest")


async def test_photo_replica_lips_follow_visemes_and_rest_on_interrupt() -> None:
    avatar = PhotoAvatar(np.asarray(skimage_data.astronaut(), np.uint8), load_face_models())
    async with viseme_call("photo", avatar) as (peer, _pc, frames, dc):
        assert peer.video is not None
        rendered: list[tuple[float, np.ndarray]] = []  # (time, viseme weights) per video frame
        stream = peer.video.stream
        original = stream.render_visemes  # type: ignore[attr-defined]

        def spy(t: float, weights: np.ndarray) -> np.ndarray:
            rendered.append((time.monotonic(), weights.copy()))
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
        dc.send(json.dumps({"event_type": "conversation.interrupt"}))
        cut = time.monotonic()
        at_rest: list[float] = await eventually(
            lambda: [t for t, w in rendered if t > cut and w[REST] == 1.0],
            timeout=2,
            interval=0.01,
            message="the face coming to rest after the interrupt",
        )
        assert at_rest[0] - cut <= 0.08, f"at rest {1000 * (at_rest[0] - cut):.0f} ms after"
        assert all(w[REST] == 1.0 for t, w in rendered if t > at_rest[0])
        # video keeps flowing to the client
        await eventually(lambda: len(frames) > received + 5, timeout=5, message="video frames")
