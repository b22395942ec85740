"""The looks of the built-in stylised replicas: colours and shapes, no drawing code.

A new built-in is one more `CharacterStyle` in `BUILTIN_STYLES`. Colours are RGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BUILTIN_STYLES", "RGB", "CharacterStyle", "HairStyle"]

RGB = tuple[int, int, int]
HairStyle = Literal["long", "short"]


@dataclass(frozen=True, slots=True)
class CharacterStyle:
    replica_id: str
    name: str
    skin: RGB
    blush: RGB
    hair: RGB
    hair_shine: RGB
    hair_style: HairStyle
    eye: RGB
    brow: RGB
    lips: RGB
    shirt: RGB
    shirt_shade: RGB
    collar: RGB
    background_top: RGB
    background_bottom: RGB
    #: eyelashes at the outer corner of the eyes
    lashes: bool = False
    #: light stubble along the jaw
    stubble: bool = False
    #: face half-width and half-height as fractions of the frame's shorter side
    face_w: float = 0.150
    face_h: float = 0.190


ARIA = CharacterStyle(
    replica_id="r-aria",
    name="Aria",
    skin=(246, 206, 180),
    blush=(240, 140, 140),
    hair=(122, 62, 40),
    hair_shine=(170, 98, 66),
    hair_style="long",
    eye=(58, 42, 44),
    brow=(102, 54, 38),
    lips=(206, 92, 98),
    shirt=(72, 128, 150),
    shirt_shade=(52, 98, 120),
    collar=(236, 236, 228),
    background_top=(250, 226, 208),
    background_bottom=(228, 170, 160),
    lashes=True,
    face_w=0.146,
    face_h=0.186,
)

LEO = CharacterStyle(
    replica_id="r-leo",
    name="Leo",
    skin=(200, 146, 108),
    blush=(200, 110, 90),
    hair=(44, 36, 36),
    hair_shine=(86, 74, 72),
    hair_style="short",
    eye=(38, 30, 30),
    brow=(40, 32, 30),
    lips=(158, 86, 74),
    shirt=(214, 150, 64),
    shirt_shade=(178, 118, 44),
    collar=(60, 62, 76),
    background_top=(206, 228, 236),
    background_bottom=(128, 168, 192),
    stubble=True,
    face_w=0.156,
    face_h=0.192,
)

BUILTIN_STYLES: tuple[CharacterStyle, ...] = (ARIA, LEO)
