"""`openreplica models pull`: fetch a small default chat model (GGUF) for the local LLM.

The file goes to `<data dir>/models/` (`OPENREPLICA_DATA_DIR`, else
`$XDG_DATA_HOME/openreplica`, else `~/.local/share/openreplica`). Downloads resume: the
bytes so far live in `<file>.part` and a second run asks the server for the rest (HTTP
Range). Offline, it fails within seconds with an error that says what to do instead.
Every download is checked against a sha256: the one given (`--sha256`), else the one
the model hub announces (Hugging Face's `X-Linked-Etag` for large files); a file that
does not match is deleted. The server uses the default model in `<data dir>/models/` with
no variable (needs the `llama` extra); `OPENREPLICA_LLM_MODEL_PATH` picks another file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

__all__ = [
    "DEFAULT_MODEL",
    "DownloadError",
    "ModelSpec",
    "ProgressBar",
    "add_models_command",
    "data_dir",
    "download",
    "pulled_model",
]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    url: str
    #: for the user's information before a long download
    approx_size: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


#: Qwen2.5 0.5B Instruct, 4-bit: about 0.5 GB, answers in well under a second on a
#: laptop CPU, Apache-2.0, and carries its chat template in the GGUF.
DEFAULT_MODEL = ModelSpec(
    name="qwen2.5-0.5b-instruct (Q4_K_M)",
    url="https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
    "qwen2.5-0.5b-instruct-q4_k_m.gguf",
    approx_size="about 490 MB",
)


class DownloadError(Exception):
    """The download failed; the message says why and what to do."""


def data_dir(env: Mapping[str, str]) -> Path:
    """Where openreplica keeps downloaded models (and other data)."""
    if env.get("OPENREPLICA_DATA_DIR"):
        return Path(env["OPENREPLICA_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
    return Path(base) / "openreplica"


def pulled_model(models_dir: Path) -> Path | None:
    """The model `openreplica models pull` saved in `models_dir`: the default model if it
    is there, else the first other `.gguf` by name; None when there is none."""
    default = models_dir / DEFAULT_MODEL.filename
    if default.is_file():
        return default
    others = sorted(models_dir.glob("*.gguf")) if models_dir.is_dir() else []
    return others[0] if others else None


# ------------------------------------------------------------------------ progress


class ProgressBar:
    """`[#####-----]  48%  235.1/490.0 MB  11.2 MB/s` on one rewritten line on a
    terminal; a line per 10 % otherwise (logs, CI)."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self._out = out
        self._width = width
        self._tty = out.isatty()
        self.total: int | None = None
        self.done = 0
        self._started_at = 0.0
        self._start_bytes = 0
        self._last_draw = 0.0
        self._last_decile = -1

    def start(self, total: int | None, already: int) -> None:
        self.total, self.done = total, already
        self._started_at = self._last_draw = time.monotonic()
        self._start_bytes = already
        if already:
            self._out.write(f"resuming at {already / 1e6:.1f} MB\n")
        self._draw(force=True)

    def update(self, n: int) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        if self._tty:
            self._out.write("\n")
        self._out.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started_at, 1e-6)
        rate = (self.done - self._start_bytes) / elapsed / 1e6
        if not self.total:
            return f"{self.done / 1e6:.1f} MB  {rate:.1f} MB/s"
        frac = min(1.0, self.done / self.total)
        filled = round(frac * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        return (
            f"[{bar}] {frac * 100:3.0f}%  {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
            f"  {rate:.1f} MB/s"
        )

    def _draw(self, force: bool = False) -> None:
        if self._tty:
            now = time.monotonic()
            if force or now - self._last_draw >= 0.1:
                self._last_draw = now
                self._out.write("\r" + self.line())
                self._out.flush()
            return
        decile = int(10 * self.done / self.total) if self.total else -1
        if force and decile == self._last_decile:
            return
        if force or decile > self._last_decile:
            self._last_decile = decile
            self._out.write(self.line() + "\n")


# ------------------------------------------------------------------------ download

_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)")


def download(
    url: str,
    dest: Path,
    *,
    progress: ProgressBar | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    trust_env: bool = True,
    sha256: str | None = None,
) -> Path:
    """Download `url` to `dest`, resuming a previous partial download, and check the
    result against `sha256` (else the hub's announced digest, when it sends one)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    host = httpx.URL(url).host
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=trust_env, follow_redirects=True) as client,
            client.stream("GET", url, headers=headers) as resp,
        ):
            total, append = _plan(resp, offset, part, url)
            sha256 = sha256 or _announced_sha256(resp)
            if total is not None and append and offset == total:
                _verify(part, sha256, url)  # the previous run got every byte
                part.replace(dest)
                return dest
            with open(part, "ab" if append else "wb") as f:
                if progress is not None:
                    progress.start(total, offset if append else 0)
                # No chunk size: every byte received is written, even if the
                # connection breaks next (a resume then starts right after it).
                for data in resp.iter_bytes():
                    f.write(data)
                    if progress is not None:
                        progress.update(len(data))
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise DownloadError(
            f"cannot reach {host}: {exc or type(exc).__name__}. Are you offline? Run this "
            f"again when online, or download {url} on another machine and set "
            "OPENREPLICA_LLM_MODEL_PATH to the file."
        ) from exc
    except httpx.HTTPError as exc:
        got = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            f"the download from {host} broke off after {got / 1e6:.1f} MB "
            f"({type(exc).__name__}: {exc}); run the same command again to resume"
        ) from exc
    finally:
        if progress is not None and progress.total is not None:
            progress.finish()
    got = part.stat().st_size
    if total is not None and got != total:
        raise DownloadError(
            f"the download from {host} stopped at {got} of {total} bytes; "
            "run the same command again to resume"
        )
    _verify(part, sha256, url)
    part.replace(dest)
    return dest


_SHA256 = re.compile(r'(?:W/)?"?([0-9a-f]{64})"?')


def _announced_sha256(resp: httpx.Response) -> str | None:
    """The digest Hugging Face sends for large (LFS) files, on the redirect or the file."""
    for r in (*resp.history, resp):
        match = _SHA256.fullmatch(r.headers.get("x-linked-etag", "").strip().lower())
        if match:
            return match.group(1)
    return None


def _verify(part: Path, sha256: str | None, url: str) -> None:
    if sha256 is None:
        return
    digest = hashlib.sha256()
    with open(part, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: the file's sha256 is {digest.hexdigest()}, expected {sha256}; the "
            "download was deleted, run the same command again"
        )


def _plan(resp: httpx.Response, offset: int, part: Path, url: str) -> tuple[int | None, bool]:
    """(total size or None, append to the partial file?) from the response headers."""
    status = resp.status_code
    if status == 206:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("content-range", ""))
        if match is None or match.group(1) is None or int(match.group(1)) != offset:
            raise DownloadError(f"{url}: the server resumed at the wrong place; delete {part}")
        return (int(match.group(2)) if match.group(2) != "*" else None), True
    if status == 416:
        # Nothing left after `offset`: complete if the size matches, else start over.
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("content-range", ""))
        if match is not None and match.group(2) == str(offset):
            return offset, True
        part.unlink(missing_ok=True)
        raise DownloadError(f"{url}: the partial download did not match; run again")
    if status == 200:
        length = resp.headers.get("content-length")
        return (int(length) if length and length.isdigit() else None), False
    raise DownloadError(f"{url}: HTTP {status} {resp.reason_phrase}".rstrip())


# ------------------------------------------------------------------------ CLI


def add_models_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="download models (the local LLM, the face models)")
    sub = models.add_subparsers(title="models commands", metavar="COMMAND")
    pull = sub.add_parser(
        "pull",
        help=f"download the default chat model ({DEFAULT_MODEL.name}, {DEFAULT_MODEL.approx_size})",
        description="Download a small chat model (GGUF) into the data directory, with a "
        "progress bar; an interrupted download resumes; the file is checked by sha256. "
        "The server then uses it when no other LLM is configured (needs the llama extra: "
        "pip install 'openreplica[llama]'). `models pull face` instead fetches the face "
        "detector, face mesh and segmenter for photo replicas (mediapipe's Apache-2.0 "
        "models, about 36 MB to download, 1.7 MB kept); `models pull turn` the end-of-turn "
        "model.",
    )
    pull.add_argument(
        "what",
        nargs="?",
        choices=("llm", "face", "turn"),
        default="llm",
        help="llm (default): the chat model; face: the face models; turn: the Smart Turn v3 "
        "end-of-turn model (taken out of the pipecat-ai wheel on the package index, about "
        "12 MB)",
    )
    pull.add_argument(
        "--dir", type=Path, help="face: where to keep the files (default <data dir>/models/face)"
    )
    pull.add_argument(
        "--wheel", type=Path, help="face: take the files from this mediapipe 0.10.14 wheel"
    )
    pull.add_argument("--url", default=DEFAULT_MODEL.url, help="download another GGUF file")
    pull.add_argument(
        "--output", type=Path, help="where to save it (default: <data dir>/models/<file name>)"
    )
    pull.add_argument("--force", action="store_true", help="download again even if present")
    pull.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the data directory already holds a model (scripts/serve)",
    )
    pull.add_argument("--sha256", help="the file's expected sha256 (default: as the hub says)")
    pull.add_argument(
        "--index-url",
        default="https://pypi.org/simple",
        help="turn: the package index to fetch the pipecat-ai wheel from (PEP 691 JSON)",
    )
    pull.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the model hub before giving up (default 10)",
    )
    pull.set_defaults(run=_run_pull)
    models.set_defaults(run=lambda _args: _usage(models))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _run_pull(args: argparse.Namespace) -> int:
    if args.what == "face":
        from openreplica.models_face import run_pull_face

        return run_pull_face(args.dir, args.wheel, args.force, os.environ)
    if args.what == "turn":
        return _run_pull_turn(args)
    url: str = args.url
    models = data_dir(os.environ) / "models"
    if args.if_missing and (found := pulled_model(models)) is not None:
        print(f"a model is already there: {found}")
        return 0
    dest: Path = args.output or models / url.rsplit("/", 1)[-1]
    if dest.exists() and not args.force:
        print(f"already downloaded: {dest}")
        _print_hint(dest)
        return 0
    if args.force:
        dest.unlink(missing_ok=True)
    print(f"downloading {url}\n         to {dest}", file=sys.stderr)
    try:
        download(
            url,
            dest,
            progress=ProgressBar(sys.stderr),
            connect_timeout=args.connect_timeout,
            read_timeout=max(args.connect_timeout, 30.0),
            sha256=args.sha256,
        )
    except DownloadError as exc:
        print(f"openreplica models pull: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(dest)
    _print_hint(dest)
    return 0


def _run_pull_turn(args: argparse.Namespace) -> int:
    from openreplica.models_turn import TURN_MODEL, pull_turn_model

    dest: Path = args.output or data_dir(os.environ) / "models" / TURN_MODEL.filename
    if dest.exists() and not args.force:
        print(f"already there: {dest}")
        return 0
    print(
        f"fetching {TURN_MODEL.package} {TURN_MODEL.version} from {args.index_url} for "
        f"{TURN_MODEL.filename} ({TURN_MODEL.approx_size})\n         to {dest}",
        file=sys.stderr,
    )
    try:
        pull_turn_model(
            dest,
            index_url=args.index_url,
            progress=ProgressBar(sys.stderr),
            connect_timeout=args.connect_timeout,
            read_timeout=max(args.connect_timeout, 30.0),
        )
    except DownloadError as exc:
        print(f"openreplica models pull turn: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(dest)
    return 0


def _print_hint(dest: Path) -> None:
    if dest.parent == data_dir(os.environ) / "models":
        how = "`openreplica serve` uses it when no other LLM is configured"
    else:
        how = f"use it with: OPENREPLICA_LLM_MODEL_PATH={dest} openreplica serve"
    print(f"{how} (needs: pip install 'openreplica[llama]')", file=sys.stderr)
