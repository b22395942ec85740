"""The replica's face: avatar renderers implementing `plugins.base.Avatar`.

- `CharacterAvatar`: built-in stylised characters (`r-aria`, `r-leo`), drawn with OpenCV.
- `PortraitAvatar.from_image(path_or_array)`: a replica animated from a portrait photo.
- `AvatarCatalog`: the built-ins plus portraits from a directory.
- `mouth_open_from_pcm` / `MouthSmoother`: the playing audio -> how open the mouth is.

Streams render `render(t, mouth_open)` -> uint8 RGB (height, width, 3) as a pure function
of the stream's seed, `t` and `mouth_open`; nothing here reads a clock.
"""

from __future__ import annotations

from .catalog import AvatarCatalog, AvatarInfo, UnknownReplica
from .character import DEFAULT_HEIGHT, DEFAULT_WIDTH, CharacterAvatar, CharacterStream
from .lipsync import MouthSmoother, mouth_open_from_pcm
from .portrait import PortraitAvatar, PortraitStream
from .style import BUILTIN_STYLES, CharacterStyle

__all__ = [
    "BUILTIN_STYLES",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "AvatarCatalog",
    "AvatarInfo",
    "CharacterAvatar",
    "CharacterStream",
    "CharacterStyle",
    "MouthSmoother",
    "PortraitAvatar",
    "PortraitStream",
    "UnknownReplica",
    "mouth_open_from_pcm",
]
