"""A video replica (trained from a synthetic talking video) over real WebRTC (aiortc):
the mouth frames it picks open and close with the speech, the frames the client
receives change in the mouth while speaking, and it is at rest within 80 ms of an
interrupt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from eventually import eventually
from face_models import load_face_models
from requires import require_module
from talking_video import talking_video

from openreplica.plugins.avatar.video_avatar import VideoAvatar
from openreplica.plugins.avatar.video_training import train_video
from openreplica.plugins.visemes import VISEMES

from .test_media import viseme_call

skimage_data = require_module("skimage.data", "pip install scikit-image")
REST = VISEMES.index("rest")


@pytest.fixture
def avatar(tmp_path: Path) -> VideoAvatar:
    models = load_face_models()
    astronaut = np.asarray(skimage_data.astronaut(), np.uint8)
    made = talking_video(models, astronaut, "Hello, my name is Eileen. It is beautiful.", 256)
    path = tmp_path / "talking.mp4"
    path.write_bytes(made.data)
    return VideoAvatar(train_video(path, models).data, "r-video", "Eileen")


async def test_video_replica_lips_follow_visemes_and_rest_on_interrupt(
    avatar: VideoAvatar,
) -> None:
    async with viseme_call("video", avatar) as (peer, _pc, frames, dc):
        assert peer.video is not None
        stream = peer.video.stream
        replica = avatar.replica(256, 256)
        gap = replica.index.features[:, 0]
        # (time, weights, lip gap of the mouth frame chosen) per rendered frame
        rendered: list[tuple[float, np.ndarray, float]] = []
        original = stream.render_visemes  # type: ignore[attr-defined]

        def spy(t: float, weights: np.ndarray) -> np.ndarray:
            out = original(t, weights)
            rendered.append((time.monotonic(), weights.copy(), float(gap[stream.last_choice])))  # type: ignore[attr-defined]
            return out  # type: ignore[no-any-return]

        stream.render_visemes = spy  # type: ignore[attr-defined]
        await eventually(lambda: len(rendered) > 0, timeout=10, message="the face rendering")
        text = " ".join(["ba"] * 20)
        dc.send(json.dumps({"event_type": "conversation.echo", "properties": {"text": text}}))
        open_gap, closed_gap = np.percentile(gap, 90), np.percentile(gap, 20)

        def speaking() -> tuple[float, float]:
            recent = [g for _, _, g in rendered[-40:]]
            return (max(recent), min(recent)) if recent else (0.0, 0.0)

        await eventually(
            lambda: speaking()[0] >= open_gap and speaking()[1] <= closed_gap,
            timeout=10,
            message=f"mouth frames both open and closed (last: {speaking()})",
        )
        # The frames the client receives change around the mouth while speaking.
        cx, cy = np.round(replica.points[replica.loop[0]][[13, 14]].mean(0)).astype(int)
        mouths = [f[cy - 16 : cy + 16, cx - 24 : cx + 24].astype(np.int16) for _, f in frames[-20:]]
        change = max(float(np.abs(a - mouths[0]).mean()) for a in mouths)
        print(f"mouth region change while speaking: {change:.1f} levels")
        assert change > 3.0, f"the mouth region changed by {change:.1f} levels at most"
        dc.send(json.dumps({"event_type": "conversation.interrupt"}))
        cut = time.monotonic()
        at_rest: list[float] = await eventually(
            lambda: [t for t, w, _ in rendered if t > cut and w[REST] == 1.0],
            timeout=2,
            interval=0.01,
            message="the face coming to rest after the interrupt",
        )
        assert at_rest[0] - cut <= 0.08, f"at rest {1000 * (at_rest[0] - cut):.0f} ms after"
        rest_gap = float(np.median([g for t, _, g in rendered if t >= at_rest[0]]))
        assert rest_gap <= np.percentile(gap, 50), "the mouth frames at rest are not closed"
