"""`openreplica models pull face`: the face detector, face mesh and segmenter.

pip fetches the `mediapipe==0.10.14` wheel (about 36 MB, from whatever index pip is
configured for, without installing it or its dependencies); the model files are taken
out, checked against their pinned sha256s and kept in `<data dir>/models/face/` with the
Apache-2.0 licence. `--wheel FILE` takes them from a wheel already on disk (offline).
The wheel is always the same file (pinned platform and Python), so the digests hold on
any machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from openreplica.plugins.avatar.facemesh.files import (
    MEDIAPIPE_REQUIREMENT,
    extract_face_models,
    face_models_present,
)

__all__ = ["face_models_dir", "fetch_mediapipe_wheel", "pull_face_models"]

#: any wheel of the release carries the same model files; pinning one makes pip's
#: choice independent of the machine it runs on
_WHEEL_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11")


def face_models_dir(data_dir: Path) -> Path:
    return data_dir / "models" / "face"


def fetch_mediapipe_wheel(into: Path, timeout: float = 300.0) -> Path:
    """Download (never install) the pinned mediapipe wheel with pip; returns its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        *_WHEEL_PLATFORM,
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(into),
        MEDIAPIPE_REQUIREMENT,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"pip download took over {timeout:g} s; are you offline?") from exc
    wheels = sorted(into.glob("mediapipe-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(
            f"pip could not fetch {MEDIAPIPE_REQUIREMENT}: {' / '.join(tail)}. Offline? Fetch "
            f"it elsewhere with `pip download --no-deps {MEDIAPIPE_REQUIREMENT}` and pass it "
            "with --wheel"
        )
    return wheels[0]


def pull_face_models(dest: Path, wheel: Path | None = None, *, force: bool = False) -> bool:
    """Make sure the verified face models are in `dest`. False when they already were."""
    if not force and face_models_present(dest, verify=True):
        return False
    if wheel is not None:
        extract_face_models(wheel, dest)
        return True
    with tempfile.TemporaryDirectory(prefix="openreplica-wheel-") as tmp:
        extract_face_models(fetch_mediapipe_wheel(Path(tmp)), dest)
    return True


def run_pull_face(
    args_dir: Path | None, wheel: Path | None, force: bool, env: Mapping[str, str]
) -> int:
    from openreplica.model_downloads import data_dir

    dest = args_dir or face_models_dir(data_dir(env))
    print(f"face models ({MEDIAPIPE_REQUIREMENT}, Apache-2.0) -> {dest}", file=sys.stderr)
    try:
        fresh = pull_face_models(dest, wheel, force=force)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"openreplica models pull face: {exc}", file=sys.stderr)
        return 1
    print(("" if fresh else "already there, verified: ") + str(dest))
    return 0
