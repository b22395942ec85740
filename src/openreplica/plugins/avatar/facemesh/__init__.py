"""Face detection, the 468-point face mesh and person segmentation, offline.

`FaceModels.load(directory)` opens the files `openreplica models pull face` put there
(see `files.py` for where they come from and their licence). One `FaceModels` is not
safe to share between threads: OpenCV's networks keep per-call buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .detect import FaceDetection, FaceDetector
from .files import FACE_MODEL_FILES, FaceModelsMissing, extract_face_models, face_models_present
from .landmarks import FaceMesh, MeshLandmarks
from .runner import Runtime, load_tflite
from .segment import PersonSegmenter

__all__ = [
    "FACE_MODEL_FILES",
    "FaceDetection",
    "FaceModels",
    "FaceModelsMissing",
    "MeshLandmarks",
    "extract_face_models",
    "face_models_present",
]


@dataclass(frozen=True, slots=True)
class FaceModels:
    detector: FaceDetector
    mesh: FaceMesh
    segmenter: PersonSegmenter

    @classmethod
    def load(cls, directory: Path, runtime: Runtime = "opencv") -> FaceModels:
        if not face_models_present(directory):
            raise FaceModelsMissing(
                f"the face models are not in {directory}: run `openreplica models pull face`"
            )
        return cls(
            FaceDetector(load_tflite(directory / "face_detection_short_range.tflite", runtime)),
            FaceMesh(load_tflite(directory / "face_landmark.tflite", runtime)),
            PersonSegmenter(load_tflite(directory / "selfie_segmentation.tflite", runtime)),
        )

    def landmarks(self, rgb: NDArray[np.uint8]) -> MeshLandmarks | None:
        """The mesh of the most confident face, or None when there is no face."""
        faces = self.detector.detect(rgb)
        return self.mesh.landmarks(rgb, faces[0]) if faces else None
