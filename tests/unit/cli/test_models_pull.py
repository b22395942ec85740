"""`openreplica models pull` against a local HTTP server: progress, resume, offline."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from openreplica.cli import main
from openreplica.model_downloads import (
    DEFAULT_MODEL,
    DownloadError,
    ProgressBar,
    data_dir,
    download,
)

BLOB = bytes(range(256)) * 4096  # 1 MiB


@dataclass
class Server:
    url: str
    ranges: list[str | None] = field(default_factory=list)
    #: serve ranges? (some servers ignore them and send everything)
    honour_range: bool = True
    #: close the connection after this many bytes of the body
    cut_after: int | None = None
    #: the digest announced in `X-Linked-Etag` (as Hugging Face does for large files)
    etag: str | None = None


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/model.gguf":
                self.send_error(404, "Not Found")
                return
            rng = self.headers.get("Range")
            state.ranges.append(rng)
            start = 0
            if rng and state.honour_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(BLOB):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(BLOB)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")
            else:
                self.send_response(200)
            body = BLOB[start:]
            if state.etag is not None:
                self.send_header("X-Linked-Etag", f'"{state.etag}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.cut_after is not None:
                self.wfile.write(body[: state.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/model.gguf"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_with_a_progress_bar(server: Server, tmp_path: Path) -> None:
    out = io.StringIO()
    dest = download(server.url, tmp_path / "m" / "model.gguf", progress=ProgressBar(out))
    assert dest.read_bytes() == BLOB
    assert not (tmp_path / "m" / "model.gguf.part").exists()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[") and "0%" in lines[0]
    assert "100%" in lines[-1] and "1.0/1.0 MB" in lines[-1]
    assert server.ranges == [None]


def test_an_interrupted_download_resumes_where_it_stopped(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "model.gguf"
    server.cut_after = 300_000
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(server.url, dest)
    part = tmp_path / "model.gguf.part"
    assert part.stat().st_size == 300_000 and not dest.exists()
    server.cut_after = None
    out = io.StringIO()
    download(server.url, dest, progress=ProgressBar(out))
    assert dest.read_bytes() == BLOB
    assert server.ranges[-1] == "bytes=300000-"
    assert out.getvalue().startswith("resuming at 0.3 MB")


def test_a_server_that_ignores_ranges_restarts_cleanly(server: Server, tmp_path: Path) -> None:
    (tmp_path / "model.gguf.part").write_bytes(b"stale bytes")
    server.honour_range = False
    download(server.url, tmp_path / "model.gguf")
    assert (tmp_path / "model.gguf").read_bytes() == BLOB


def test_a_complete_part_file_is_just_renamed(server: Server, tmp_path: Path) -> None:
    (tmp_path / "model.gguf.part").write_bytes(BLOB)
    download(server.url, tmp_path / "model.gguf")
    assert (tmp_path / "model.gguf").read_bytes() == BLOB
    assert server.ranges == [f"bytes={len(BLOB)}-"]


def test_http_errors_are_clear(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url.replace("model", "missing"), tmp_path / "x.gguf")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_offline_fails_fast_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENREPLICA_DATA_DIR", str(tmp_path))
    url = f"http://127.0.0.1:{closed_port()}/model.gguf"
    started = time.monotonic()
    assert main(["models", "pull", "--url", url]) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "cannot reach 127.0.0.1" in err and "offline" in err
    assert "OPENREPLICA_LLM_MODEL_PATH" in err
    assert not (tmp_path / "models" / "model.gguf").exists()


def test_the_cli_saves_into_the_data_dir_and_says_how_to_use_it(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENREPLICA_DATA_DIR", str(tmp_path))
    assert main(["models", "pull", "--url", server.url]) == 0
    dest = tmp_path / "models" / "model.gguf"
    assert dest.read_bytes() == BLOB
    out = capsys.readouterr()
    assert out.out.strip() == str(dest)
    assert "`openreplica serve` uses it" in out.err and "100%" in out.err
    # a second pull finds it and downloads nothing
    assert main(["models", "pull", "--url", server.url]) == 0
    assert "already downloaded" in capsys.readouterr().out and len(server.ranges) == 1


def test_data_dir_and_default_model() -> None:
    assert data_dir({"OPENREPLICA_DATA_DIR": "/srv/or"}) == Path("/srv/or")
    assert data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/openreplica")
    assert DEFAULT_MODEL.filename.endswith(".gguf") and DEFAULT_MODEL.url.startswith("https://")


SHA = hashlib.sha256(BLOB).hexdigest()


def test_the_announced_sha256_is_checked(server: Server, tmp_path: Path) -> None:
    server.etag = SHA
    assert download(server.url, tmp_path / "ok.gguf").read_bytes() == BLOB
    server.etag = "0" * 64
    with pytest.raises(DownloadError, match=f"sha256 is {SHA}, expected 0000"):
        download(server.url, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()
    assert not (tmp_path / "bad.gguf.part").exists()  # the next run starts over


def test_a_given_sha256_wins_and_a_resumed_file_is_checked_whole(
    server: Server, tmp_path: Path
) -> None:
    server.cut_after = 300_000
    with pytest.raises(DownloadError):
        download(server.url, tmp_path / "m.gguf", sha256=SHA)
    server.cut_after = None
    assert download(server.url, tmp_path / "m.gguf", sha256=SHA).read_bytes() == BLOB
    with pytest.raises(DownloadError, match="expected " + "1" * 64):
        download(server.url, tmp_path / "n.gguf", sha256="1" * 64)


def test_the_cli_takes_a_sha256(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.gguf"
    assert (
        main(["models", "pull", "--url", server.url, "--output", str(out), "--sha256", "2" * 64])
        == 1
    )
    assert "sha256" in capsys.readouterr().err and not out.exists()
    assert main(["models", "pull", "--url", server.url, "--output", str(out), "--sha256", SHA]) == 0
    assert f"OPENREPLICA_LLM_MODEL_PATH={out}" in capsys.readouterr().err


def test_if_missing_downloads_nothing_when_a_model_is_there(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENREPLICA_DATA_DIR", str(tmp_path))
    assert main(["models", "pull", "--if-missing", "--url", server.url]) == 0
    assert len(server.ranges) == 1  # none there yet: downloaded
    (tmp_path / "models" / "model.gguf").rename(tmp_path / "models" / "mine.gguf")
    assert main(["models", "pull", "--if-missing", "--url", server.url]) == 0
    assert "already there" in capsys.readouterr().out and len(server.ranges) == 1
