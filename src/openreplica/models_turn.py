"""The end-of-turn model (Smart Turn v3) for `openreplica models pull turn`.

Smart Turn v3 (BSD-2-Clause, by Daily) ships inside the `pipecat-ai` wheel on the
package index. We never install pipecat-ai: the wheel is fetched with the same resumable,
progress-reporting `download()` as other models (checked against the sha256 the index
announces), the ONNX file is taken out of it and checked against a pinned sha256, and the
licence notice is saved beside it. The wheel is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from openreplica.model_downloads import DownloadError, ProgressBar, download

__all__ = [
    "TURN_MODEL",
    "TurnModelSpec",
    "find_turn_model",
    "license_path",
    "pull_turn_model",
]


@dataclass(frozen=True, slots=True)
class TurnModelSpec:
    package: str
    version: str
    #: the model's path inside the wheel
    member: str
    sha256: str
    #: the wheel's licence file (BSD-2-Clause), kept beside the model
    license_member: str
    approx_size: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


TURN_MODEL = TurnModelSpec(
    package="pipecat-ai",
    version="1.14.0",
    member="pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    license_member="pipecat_ai-1.14.0.dist-info/licenses/LICENSE",
    approx_size="a 12 MB download for an 8.7 MB model",
)

DEFAULT_INDEX = "https://pypi.org/simple"


def license_path(model: Path) -> Path:
    return model.with_name(model.stem + ".LICENSE.txt")


def find_turn_model(models_dir: Path) -> Path | None:
    """The pulled model in `models_dir`, or None."""
    path = models_dir / TURN_MODEL.filename
    return path if path.is_file() else None


def pull_turn_model(
    dest: Path,
    *,
    index_url: str = DEFAULT_INDEX,
    progress: ProgressBar | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    spec: TurnModelSpec = TURN_MODEL,
) -> Path:
    """Fetch the wheel, extract the model to `dest` (and its licence beside it)."""
    wheel_url, wheel_sha256 = _wheel_url(index_url, spec, connect_timeout, read_timeout)
    wheel = dest.parent / ".downloads" / wheel_url.rsplit("/", 1)[-1].split("#")[0]
    download(
        wheel_url,
        wheel,
        progress=progress,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        sha256=wheel_sha256,
    )
    try:
        extract_model(wheel, dest, spec)
    finally:
        wheel.unlink(missing_ok=True)
        _rmdir_if_empty(wheel.parent)
    return dest


def extract_model(wheel: Path, dest: Path, spec: TurnModelSpec = TURN_MODEL) -> None:
    """Take the model and its licence out of the wheel; check the model's sha256."""
    part = dest.with_name(dest.name + ".part")
    try:
        with zipfile.ZipFile(wheel) as zf:
            with zf.open(spec.member) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            notice = zf.read(spec.license_member).decode("utf-8")
    except (zipfile.BadZipFile, KeyError) as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{wheel.name} does not hold {spec.member}: {exc}") from exc
    digest = _sha256(part)
    if digest != spec.sha256:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{spec.member} in {wheel.name} has sha256 {digest}, expected {spec.sha256}"
        )
    license_path(dest).write_text(
        f"{dest.name}: Smart Turn v3 by Daily, taken from the {spec.package} "
        f"{spec.version} wheel ({spec.member}). Its licence:\n\n{notice}",
        encoding="utf-8",
    )
    part.replace(dest)


def _wheel_url(
    index_url: str, spec: TurnModelSpec, connect_timeout: float, read_timeout: float
) -> tuple[str, str | None]:
    """(wheel URL, its sha256 as the index announces it) from the PEP 691 JSON API."""
    page = f"{index_url.rstrip('/')}/{spec.package}/"
    host = httpx.URL(page).host
    try:
        resp = httpx.get(
            page,
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=True,
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise DownloadError(
            f"cannot reach {host}: {exc or type(exc).__name__}. Are you offline? Run this "
            "again when online (the server listens with the fixed-silence turn detector "
            "until then)."
        ) from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"{page}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        raise DownloadError(f"{page}: HTTP {resp.status_code}")
    try:
        files = resp.json()["files"]
    except (ValueError, KeyError) as exc:
        raise DownloadError(f"{page} is not a PEP 691 JSON index page") from exc
    wanted = f"{spec.package.replace('-', '_')}-{spec.version}-py3-none-any.whl"
    for entry in files:
        if entry.get("filename") == wanted:
            url = str(httpx.URL(page).join(entry["url"]))
            return url, entry.get("hashes", {}).get("sha256")
    raise DownloadError(f"{page} lists no {wanted}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _rmdir_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
