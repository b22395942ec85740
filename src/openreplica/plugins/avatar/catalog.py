"""Which replicas exist: the built-in characters plus portraits from a directory.

A portrait replica is an image file named after its replica id, e.g.
`<data_dir>/replicas/r-sam.jpg` (`.jpg`, `.jpeg` or `.png`); its display name is taken
from the id (`r-sam` -> `Sam`) unless registered explicitly. Listing only scans file
names; a portrait's image is loaded and its face detected on first `get`, then kept.
Built-in ids always win over a file of the same name.

A video replica is a `<replica_id>.video` file made by training (`video_training.py`);
it becomes a `VideoAvatar` (kind "video").

With the face models (`openreplica models pull face`) a portrait becomes a photoreal
`PhotoAvatar` (face mesh, lips shaped per viseme); without them, or when the mesh finds
no single usable face, it stays a `PortraitAvatar` (OpenCV Haar cascades).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from . import style as _style_module
from .character import CharacterAvatar
from .face_detect import load_rgb
from .facemesh import FaceModels
from .photo import FaceTooSmall, NoFaceFound, PhotoAvatar, SeveralFaces
from .portrait import PortraitAvatar
from .style import BUILTIN_STYLES, CharacterStyle
from .video_avatar import VIDEO_SUFFIX, VideoAvatar

__all__ = ["PORTRAIT_SUFFIXES", "AvatarCatalog", "AvatarInfo", "UnknownReplica"]

PORTRAIT_SUFFIXES = (".jpg", ".jpeg", ".png")

AvatarKind = Literal["character", "portrait", "video"]
Loaded = PortraitAvatar | PhotoAvatar | VideoAvatar


class UnknownReplica(KeyError):
    """No replica with this id."""


@dataclass(frozen=True, slots=True)
class AvatarInfo:
    replica_id: str
    name: str
    kind: AvatarKind
    #: epoch seconds: a portrait file's mtime, the built-ins' install time; None for
    #: portraits registered from memory
    created_at: float | None = field(default=None, compare=False)


def name_from_id(replica_id: str) -> str:
    stem = replica_id.removeprefix("r-")
    return (
        " ".join(part.capitalize() for part in stem.replace("_", "-").split("-") if part)
        or replica_id
    )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:  # removed since the directory was scanned
        return None


class AvatarCatalog:
    """Built-ins plus portraits; `portrait_dir` may be None or not exist yet."""

    def __init__(
        self,
        portrait_dir: str | Path | None = None,
        styles: Iterable[CharacterStyle] = BUILTIN_STYLES,
        face_models: FaceModels | None = None,
    ) -> None:
        self.face_models = face_models
        self._builtins = {s.replica_id: CharacterAvatar(s) for s in styles}
        self._portrait_dir = Path(portrait_dir) if portrait_dir is not None else None
        self._registered: dict[str, PortraitAvatar | PhotoAvatar] = {}
        self._loaded: dict[Path, Loaded] = {}
        #: display names given with `rename`, over the ones taken from ids
        self._names: dict[str, str] = {}

    def _portrait_files(self) -> dict[str, Path]:
        d = self._portrait_dir
        if d is None or not d.is_dir():
            return {}
        files = sorted(
            p
            for p in d.iterdir()
            if p.is_file() and p.suffix.lower() in (*PORTRAIT_SUFFIXES, VIDEO_SUFFIX)
        )
        found: dict[str, Path] = {}
        for p in files:
            if p.stem not in self._builtins:
                found.setdefault(p.stem, p)
        return found

    def list(self) -> builtins.list[AvatarInfo]:
        installed = Path(_style_module.__file__).stat().st_mtime
        out = [
            AvatarInfo(a.replica_id, a.name, "character", installed)
            for a in self._builtins.values()
        ]
        files = self._portrait_files()
        portraits: dict[str, AvatarInfo] = {
            rid: AvatarInfo(
                rid,
                self._names.get(rid, name_from_id(rid)),
                "video" if p.suffix.lower() == VIDEO_SUFFIX else "portrait",
                _mtime(p),
            )
            for rid, p in files.items()
        }
        portraits.update(
            {rid: AvatarInfo(rid, a.name, "portrait") for rid, a in self._registered.items()}
        )
        out.extend(portraits[rid] for rid in sorted(portraits))
        return out

    def rename(self, replica_id: str, name: str) -> None:
        """Give a portrait replica a display name (built-ins keep theirs)."""
        if replica_id in self._builtins:
            raise ValueError(f"{replica_id} is a built-in replica")
        if replica_id not in self:
            raise UnknownReplica(replica_id)
        self._names[replica_id] = name
        if replica_id in self._registered:
            self._registered[replica_id].name = name
        path = self._portrait_files().get(replica_id)
        if path is not None and path in self._loaded:
            self._loaded[path].name = name

    def get(self, replica_id: str) -> CharacterAvatar | Loaded:
        if replica_id in self._builtins:
            return self._builtins[replica_id]
        if replica_id in self._registered:
            return self._registered[replica_id]
        path = self._portrait_files().get(replica_id)
        if path is None:
            raise UnknownReplica(replica_id)
        if path not in self._loaded:
            name = self._names.get(replica_id, name_from_id(replica_id))
            if path.suffix.lower() == VIDEO_SUFFIX:
                self._loaded[path] = VideoAvatar.from_file(path, replica_id, name)
            else:
                self._loaded[path] = self._portrait(load_rgb(path), replica_id, name)
        return self._loaded[path]

    def _portrait(
        self, rgb: NDArray[np.uint8], replica_id: str, name: str
    ) -> PortraitAvatar | PhotoAvatar:
        if self.face_models is not None:
            try:
                return PhotoAvatar(rgb, self.face_models, replica_id, name)
            except (NoFaceFound, SeveralFaces, FaceTooSmall):
                pass  # the cruder portrait animates any picture
        return PortraitAvatar(rgb, replica_id, name)

    def forget(self, replica_id: str) -> None:
        """Drop what is kept in memory for a portrait (its file is the caller's)."""
        self._registered.pop(replica_id, None)
        self._names.pop(replica_id, None)
        for path in [p for p in self._loaded if p.stem == replica_id]:
            del self._loaded[path]

    def __contains__(self, replica_id: object) -> bool:
        return isinstance(replica_id, str) and any(i.replica_id == replica_id for i in self.list())

    def register_portrait(
        self,
        replica_id: str,
        image: str | Path | NDArray[np.generic],
        name: str | None = None,
    ) -> PortraitAvatar | PhotoAvatar:
        """Add a portrait replica from an image file or array (kept in memory only)."""
        if replica_id in self._builtins:
            raise ValueError(f"{replica_id} is a built-in replica")
        avatar = self._portrait(load_rgb(image), replica_id, name or name_from_id(replica_id))
        self._registered[replica_id] = avatar
        return avatar
