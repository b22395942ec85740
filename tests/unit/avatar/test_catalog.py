"""The replica catalog: built-ins plus portraits from a directory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from openreplica.plugins.avatar import (
    AvatarCatalog,
    AvatarInfo,
    CharacterAvatar,
    PortraitAvatar,
    UnknownReplica,
)


def write(path: Path, rgb: NDArray[np.uint8]) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_builtins_without_a_directory() -> None:
    catalog = AvatarCatalog()
    infos = catalog.list()
    assert len(infos) >= 2
    assert {i.kind for i in infos} == {"character"}
    assert len({i.name for i in infos}) == len(infos)
    assert AvatarInfo("r-aria", "Aria", "character") in infos
    for info in infos:
        avatar = catalog.get(info.replica_id)
        assert isinstance(avatar, CharacterAvatar)
        assert avatar.name == info.name
    with pytest.raises(UnknownReplica):
        catalog.get("r-nobody")
    assert "r-leo" in catalog and "r-nobody" not in catalog


def test_portraits_from_a_directory(tmp_path: Path, astronaut: NDArray[np.uint8]) -> None:
    replicas = tmp_path / "replicas"
    catalog = AvatarCatalog(replicas)  # may not exist yet
    assert all(i.kind == "character" for i in catalog.list())
    replicas.mkdir()
    write(replicas / "r-eileen-c.jpg", astronaut)
    write(replicas / "r-small.png", astronaut[::4, ::4])
    write(replicas / "r-aria.jpg", astronaut)  # cannot shadow a built-in
    (replicas / "notes.txt").write_text("not an image")
    infos = {i.replica_id: i for i in catalog.list()}
    assert infos["r-eileen-c"] == AvatarInfo("r-eileen-c", "Eileen C", "portrait")
    assert infos["r-small"].kind == "portrait"
    assert infos["r-aria"].kind == "character"
    avatar = catalog.get("r-eileen-c")
    assert isinstance(avatar, PortraitAvatar) and avatar.face_found
    assert catalog.get("r-eileen-c") is avatar  # loaded once
    assert avatar.create_stream(128, 128).render(0.0, 0.5).shape == (128, 128, 3)


def test_register_portrait(astronaut: NDArray[np.uint8]) -> None:
    catalog = AvatarCatalog()
    catalog.register_portrait("r-astro", astronaut, name="Commander")
    assert AvatarInfo("r-astro", "Commander", "portrait") in catalog.list()
    assert catalog.get("r-astro").name == "Commander"
    with pytest.raises(ValueError):
        catalog.register_portrait("r-leo", astronaut)


def test_catalogs_are_independent(astronaut: NDArray[np.uint8]) -> None:
    a, b = AvatarCatalog(), AvatarCatalog()
    a.register_portrait("r-astro", astronaut)
    assert "r-astro" in a and "r-astro" not in b
