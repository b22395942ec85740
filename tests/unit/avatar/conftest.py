from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from requires import require_module

from openreplica.plugins.avatar import PortraitAvatar

skimage_data = require_module("skimage.data", "pip install 'openreplica[dev]'")


@pytest.fixture(scope="session")
def astronaut() -> NDArray[np.uint8]:
    return np.asarray(skimage_data.astronaut(), np.uint8)


@pytest.fixture(scope="session")
def coffee() -> NDArray[np.uint8]:
    return np.asarray(skimage_data.coffee(), np.uint8)


@pytest.fixture(scope="session")
def astronaut_avatar(astronaut: NDArray[np.uint8]) -> PortraitAvatar:
    return PortraitAvatar.from_image(astronaut, "r-astro", "Astro")
