"""`VideoAvatar`: a replica made from a video of the person (see `video_replica.py`),
and its file: `<data_dir>/replicas/<replica_id>.video`.

The file is an uncompressed `.npz` (no pickles) holding the framed frames as JPEGs
(one blob plus offsets), each frame's 468 landmarks, its viseme label (-1: unknown),
the idle loop's frame range and the side of the (square) stored frames. The JPEGs are
kept compressed in memory and decoded on demand (`JpegFrames`).
"""

from __future__ import annotations

import io
import itertools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from openreplica.plugins.visemes import VISEMES, Viseme

from .character import DEFAULT_HEIGHT, DEFAULT_WIDTH
from .video_replica import JpegFrames, VideoReplica, VideoReplicaStream

__all__ = ["VIDEO_SUFFIX", "VideoAvatar", "VideoReplicaData"]

VIDEO_SUFFIX = ".video"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class VideoReplicaData:
    """What training keeps of a video (see the module doc)."""

    jpegs: tuple[bytes, ...]
    points: NDArray[np.float32]  # (n, 468, 2) in stored-frame pixels
    labels: tuple[Viseme | None, ...]
    loop: tuple[int, int]
    side: int

    def save(self, path: Path) -> None:
        """Write atomically (a temporary name, then rename)."""
        offsets = np.cumsum([0, *(len(j) for j in self.jpegs)]).astype(np.int64)
        codes = np.array([-1 if v is None else VISEMES.index(v) for v in self.labels], np.int8)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            format=np.array([_FORMAT], np.int64),
            blob=np.frombuffer(b"".join(self.jpegs), np.uint8),
            offsets=offsets,
            points=self.points.astype(np.float32),
            labels=codes,
            loop=np.array(self.loop, np.int64),
            side=np.array([self.side], np.int64),
        )
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_bytes(buffer.getvalue())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> VideoReplicaData:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"][0]) != _FORMAT:
                raise ValueError(f"{path} is a video replica of an unknown format")
            blob = z["blob"].tobytes()
            offsets = [int(o) for o in z["offsets"]]
            labels: tuple[Viseme | None, ...] = tuple(
                None if c < 0 else VISEMES[c] for c in z["labels"].tolist()
            )
            loop = (int(z["loop"][0]), int(z["loop"][1]))
            return cls(
                tuple(blob[a:b] for a, b in itertools.pairwise(offsets)),
                np.asarray(z["points"], np.float32),
                labels,
                loop,
                int(z["side"][0]),
            )


class VideoAvatar:
    """An `Avatar` from a trained video. Replicas are made per frame size on first use
    and shared, read-only, by the streams of that size."""

    kind = "video"

    def __init__(self, data: VideoReplicaData, replica_id: str, name: str) -> None:
        self.replica_id = replica_id
        self.name = name
        self.data = data
        self._replicas: dict[tuple[int, int], VideoReplica] = {}

    @classmethod
    def from_file(cls, path: Path, replica_id: str, name: str) -> VideoAvatar:
        return cls(VideoReplicaData.load(path), replica_id, name)

    def replica(self, width: int, height: int) -> VideoReplica:
        found = self._replicas.get((width, height))
        if found is None:
            frames = JpegFrames(self.data.jpegs, self.data.side, width, height)
            points = frames.map_points(self.data.points.astype(np.float64))
            found = VideoReplica(frames, points, self.data.labels, width, height, self.data.loop)
            if len(self._replicas) < 4:
                self._replicas[(width, height)] = found
        return found

    def create_stream(
        self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, seed: int = 0
    ) -> VideoReplicaStream:
        return self.replica(width, height).create_stream(seed)

    def __repr__(self) -> str:
        return f"VideoAvatar({self.replica_id!r}, name={self.name!r})"
