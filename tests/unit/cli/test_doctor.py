"""`openreplica doctor` on a healthy and a broken setup (loopback only)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openreplica.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENREPLICA_LLM_BASE_URL", "OPENREPLICA_LLM_MODEL_PATH", "OPENREPLICA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code = main(["doctor", "--data-dir", str(tmp_path), "--port", str(_free_port())])
    out = capsys.readouterr().out
    assert code == 0, out
    for line in ("✓ Piper voice", "✓ pocketsphinx", "✓ data dir", "✓ database", "✓ port"):
        assert line in out
    assert "! LLM: this persona has no LLM" in out  # optional: guidance, not failure
    assert "! face models: not in" in out and "openreplica models pull face" in out
    assert "! end of turn: a fixed silence: no Smart Turn model" in out
    assert "openreplica models pull turn" in out
    assert out.strip().endswith("ready to serve")


def test_pulled_face_models_are_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from face_models import require_face_models

    monkeypatch.delenv("OPENREPLICA_API_KEY", raising=False)
    models = require_face_models()
    args = ["doctor", "--data-dir", str(tmp_path), "--port", str(_free_port())]
    main([*args, "--face-models-dir", str(models)])
    assert f"✓ face models: {models}" in capsys.readouterr().out


def test_a_broken_setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    closed = f"http://127.0.0.1:{_free_port()}/v1"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            [
                "doctor",
                "--data-dir",
                str(not_a_dir),
                "--port",
                str(port),
                "--llm-base-url",
                closed,
                "--webrtc-ice-servers",
                "[{",
            ]
        )
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"✗ data dir: {not_a_dir} is not writable" in out
    assert f"✗ port: 127.0.0.1:{port} is taken" in out
    assert "✗ database" in out
    assert "✗ WebRTC settings: cannot parse them" in out
    assert f"! LLM: the LLM endpoint {closed} is not reachable" in out
    assert out.strip().endswith("the server cannot run: fix the ✗ lines")
