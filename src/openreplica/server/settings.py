"""The server's settings: loaded once at the CLI edge from flags and `OPENREPLICA_*`
environment variables, then passed down. Nothing below the CLI reads the environment.

Each setting is declared once in `OPTIONS` (flag, env var, type, help); the CLI builds
its `--help` from that table, so every flag and variable is documented in one place.
Precedence: flag, then environment variable, then the default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from openreplica.engine import SpeechLimits
from openreplica.protocol import DEFAULT_MAX_MESSAGE_BYTES
from openreplica.transports.webrtc_settings import (
    IceServer,
    WebRTCSettings,
    parse_ice_servers,
    parse_video_size,
)

__all__ = ["OPTIONS", "Option", "ServerSettings", "SettingsError", "default_data_dir"]


class SettingsError(ValueError):
    """The settings cannot be used (the message says why and what to do)."""


def default_data_dir(env: Mapping[str, str]) -> Path:
    """`$XDG_DATA_HOME/openreplica`, else `~/.local/share/openreplica`."""
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or "~").expanduser() / ".local/share"
    )
    return Path(base) / "openreplica"


_SPEECH_DEFAULTS = SpeechLimits()


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    #: the REST/WebSocket key (`x-api-key`); None = REST auth off (loopback only)
    api_key: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("openreplica-data"))
    #: SQLAlchemy async URL; None = SQLite in `data_dir`
    database_url: str | None = None
    #: the base of `conversation_url`; None = http://HOST:PORT
    public_url: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    #: a local GGUF run in-process with llama-cpp-python (the `llama` extra)
    llm_model_path: str | None = None
    tts_engine: str | None = None
    stt_engine: str | None = None
    #: PocketSphinx worker processes (each about one core's worth of decoding); 0 runs
    #: the decoders on the event loop's thread, where they hold the GIL
    asr_workers: int = 1
    #: auto (Silero when installed, else webrtcvad), silero or webrtc
    vad_engine: str = "auto"
    #: smart_turn (the end-of-turn model, when its file is there) or silence
    turn_detector: str = "smart_turn"
    #: the Smart Turn model; None = `<data dir>/models/smart-turn-v3.2-cpu.onnx`
    turn_model_path: str | None = None
    webhook_secret: str | None = None
    webhook_max_attempts: int = 5
    webhook_retry_delay: float = 1.0
    webhook_timeout: float = 10.0
    #: seconds pending webhooks may still be tried when the server stops
    webhook_shutdown_grace: float = 5.0
    #: seconds a node's lease on a webhook delivery lasts unrenewed (another node takes
    #: a dead node's deliveries after it)
    webhook_lease: float = 30.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    rate_limit: float = 20.0
    rate_burst: int = 40
    #: interactions per second per conversation, shared by all its connections
    conversation_rate_limit: float = 40.0
    conversation_rate_burst: int = 80
    #: largest JSON body of a REST route (personas, conversations, app messages)
    max_body_bytes: int = 64 * 1024
    #: largest body of the WebRTC offer route (an SDP offer is a few KiB)
    max_offer_bytes: int = 256 * 1024
    #: largest persona document (JSON-encoded), at create and after every PATCH
    max_persona_bytes: int = 64 * 1024
    max_utterance_chars: int = _SPEECH_DEFAULTS.max_utterance_chars
    max_echo_audio_ahead: float = _SPEECH_DEFAULTS.max_echo_audio_ahead
    tts_ahead: float = _SPEECH_DEFAULTS.tts_ahead
    participant_left_timeout: float = 60.0
    participant_absent_timeout: float = 300.0
    max_call_duration: float = 3600.0
    log_level: str = "info"
    #: text, or json (one object per line, for log collectors)
    log_format: str = "text"
    #: WebRTC, parsed at load (see `webrtc`). None = the transport's default; loopback
    #: candidates default to on when bound to a loopback address
    webrtc_loopback: bool | None = None
    webrtc_ice_servers: tuple[IceServer, ...] = ()
    #: (width, height)
    webrtc_video_size: tuple[int, int] | None = None
    webrtc_video_fps: int | None = None
    webrtc_camera_fps: float | None = None
    #: origins allowed to call the API, the offer endpoint and /static from a browser
    #: (CORS, SPEC §2.5); ("*",) = any origin
    cors_origins: tuple[str, ...] = ("*",)
    # --- observability (docs/operations.md)
    #: serve Prometheus metrics at GET /metrics
    metrics: bool = True
    #: OpenTelemetry traces per turn: off, or otlp (the `otel` extra + OTLP exporter)
    traces: str = "off"
    otlp_endpoint: str = "http://localhost:4318/v1/traces"
    #: the face models for photo replicas; None = DATA_DIR/models/face
    face_models_dir: Path | None = None
    #: let `train_image_url` fetch from private and loopback addresses (tests, intranets)
    replica_fetch_private: bool = False
    #: testing only: instant tone TTS and an echoing LLM instead of real models
    testing_scripted_plugins: bool = False
    #: testing only: seconds each batch of events waits before the database gets it
    testing_event_write_delay: float = 0.0
    # --- the hosted surface (issue 18): presence, interruptions
    #: seconds between `system.replica_present` heartbeats; 0 = none
    presence_interval: float = 5.0
    #: send `conversation.replica_interrupted` beside an interrupted utterance
    replica_interrupted: bool = True
    #: all call recordings together (DATA_DIR/recordings) may use this many bytes
    recording_max_bytes: int = 5 * 1024**3
    #: frames per second of a recording's video
    recording_fps: float = 10.0
    #: the cluster (docs/scaling.md): Redis URL; None = one process, coordinated in memory
    redis_url: str | None = None
    #: where the other nodes reach this one (required with `redis_url`)
    node_url: str | None = None
    #: this node's id; None = derived from `node_url` (host-port)
    node_id: str | None = None
    #: conversations this node hosts at most; 0 = no limit
    node_capacity: int = 0
    #: seconds between heartbeats, and how long a node counts as live after its last one
    node_heartbeat: float = 0.5
    node_ttl: float = 3.0
    #: node processes behind one port (server/workers.py); 0 = this process serves alone
    workers: int = 0

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'openreplica.db'}"

    @property
    def clustered(self) -> bool:
        return self.redis_url is not None

    @property
    def this_node_id(self) -> str:
        if self.node_id:
            return self.node_id
        if self.node_url:
            netloc = self.node_url.split("://", 1)[-1].split("/", 1)[0]
            return re.sub(r"[^A-Za-z0-9_.-]", "-", netloc)
        return "local"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def face_models_path(self) -> Path:
        return self.face_models_dir or self.data_dir / "models" / "face"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def webrtc(self) -> WebRTCSettings:
        """The WebRTC transport's settings. Loopback candidates default to on when the
        server is bound to a loopback address: then only this machine can reach it, and
        loopback is the path that always works, even in a loopback-only network
        namespace."""
        default = WebRTCSettings()
        width, height = self.webrtc_video_size or (default.video_width, default.video_height)
        return WebRTCSettings(
            ice_servers=self.webrtc_ice_servers,
            loopback=self.loopback if self.webrtc_loopback is None else self.webrtc_loopback,
            video_width=width,
            video_height=height,
            video_fps=default.video_fps if self.webrtc_video_fps is None else self.webrtc_video_fps,
            camera_fps=(
                default.camera_fps if self.webrtc_camera_fps is None else self.webrtc_camera_fps
            ),
        )

    @property
    def speech_limits(self) -> SpeechLimits:
        """The limits every conversation's engine and runtime work within."""
        return SpeechLimits(
            max_utterance_chars=self.max_utterance_chars,
            max_echo_audio_ahead=self.max_echo_audio_ahead,
            tts_ahead=self.tts_ahead,
        )

    @property
    def rest_auth(self) -> bool:
        return self.api_key is not None

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work."""
        if not self.loopback and not self.api_key:
            raise SettingsError(
                f"refusing to serve on {self.host} without an API key: set "
                "OPENREPLICA_API_KEY (or --api-key), or bind to 127.0.0.1"
            )
        if self.max_message_bytes < 1024:
            raise SettingsError("--max-message-bytes must be at least 1024")
        if self.rate_limit <= 0 or self.rate_burst < 1:
            raise SettingsError("--rate-limit must be > 0 and --rate-burst >= 1")
        if self.conversation_rate_limit <= 0 or self.conversation_rate_burst < 1:
            raise SettingsError(
                "--conversation-rate-limit must be > 0 and --conversation-rate-burst >= 1"
            )
        for name in ("max_body_bytes", "max_offer_bytes", "max_persona_bytes"):
            if getattr(self, name) < 1024:
                raise SettingsError(f"--{name.replace('_', '-')} must be at least 1024")
        if self.max_utterance_chars < 1:
            raise SettingsError("--max-utterance-chars must be at least 1")
        if self.max_echo_audio_ahead <= 0 or self.tts_ahead <= 0:
            raise SettingsError("--max-echo-audio-ahead and --tts-ahead must be > 0 seconds")
        if self.presence_interval < 0:
            raise SettingsError("--presence-interval must be >= 0 (0 turns it off)")
        if not 1 <= self.recording_fps <= 30:
            raise SettingsError("--recording-fps must be between 1 and 30")
        from openreplica.server.tracing import check_tracing

        check_tracing(self)
        self._check_cluster()

    def _check_cluster(self) -> None:
        if self.node_capacity < 0:
            raise SettingsError("--node-capacity must be 0 (no limit) or more")
        if self.node_heartbeat <= 0 or self.node_ttl <= self.node_heartbeat:
            raise SettingsError("--node-ttl must be longer than --node-heartbeat (both > 0)")
        if self.webhook_lease <= 0:
            raise SettingsError("--webhook-lease must be > 0 seconds")
        if self.workers < 0:
            raise SettingsError("--workers must be 0 (this process serves) or more")
        if self.workers:
            self._check_workers()
            return
        if not self.clustered:
            return
        if not self.node_url:
            raise SettingsError(
                "--redis joins a cluster: give --node-url http://ADDRESS:PORT, where the "
                "other nodes reach this one"
            )
        if self.sqlalchemy_url.startswith("sqlite"):
            raise SettingsError(
                "the nodes of a cluster share one database: give --database "
                "postgresql+asyncpg://USER@HOST/DB"
            )

    def _check_workers(self) -> None:
        if not self.clustered:
            raise SettingsError(
                "--workers runs node processes coordinated like a cluster: give --redis "
                "redis://HOST:6379/0 (start one with `redis-server`; README, docs/scaling.md)"
            )
        if self.sqlalchemy_url.startswith("sqlite"):
            raise SettingsError(
                "--workers share one database and need PostgreSQL: give --database "
                "postgresql+asyncpg://USER@HOST/DB (docs/scaling.md says why not SQLite)"
            )
        if self.port == 0:
            raise SettingsError("--workers share one port: give --port a number, not 0")

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        *,
        invalid: dict[str, str] | None = None,
    ) -> ServerSettings:
        """Settings from parsed flags (None = not given) and the environment, each value
        parsed into its type here. A value that does not parse raises `SettingsError`;
        with `invalid` (`openreplica doctor`, which reports every problem at once) it is
        recorded there by option name instead, and the option keeps its default."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for option in OPTIONS:
            raw = flags.get(option.name)
            if raw is None and option.env in env and env[option.env] != "":
                raw = env[option.env]
            if raw is None:
                continue
            try:
                values[option.name] = option.parse(raw)
            except ValueError as exc:
                message = f"{option.env} / {option.flag}: {exc}"
                if invalid is None:
                    raise SettingsError(message) from None
                invalid[option.name] = message
        if "data_dir" not in values:
            values["data_dir"] = default_data_dir(env)
        settings = cls(**values)
        settings = replace(settings, data_dir=Path(settings.data_dir).expanduser())
        return settings.with_pulled_model()

    @property
    def smart_turn_path(self) -> Path:
        """The end-of-turn model's file (`models pull turn` saves it there by default)."""
        if self.turn_model_path:
            return Path(self.turn_model_path).expanduser()
        from openreplica.models_turn import TURN_MODEL

        return self.data_dir / "models" / TURN_MODEL.filename

    def with_pulled_model(self) -> ServerSettings:
        """With no LLM configured, the model `openreplica models pull` saved in
        DATA_DIR/models answers (no variable needed)."""
        if self.llm_model_path is not None or self.llm_base_url is not None:
            return self
        from openreplica.model_downloads import pulled_model

        found = pulled_model(self.data_dir / "models")
        return self if found is None else replace(self, llm_model_path=str(found))


def _choice(raw: object, choices: tuple[str, ...]) -> str:
    name = str(raw).strip().lower()
    if name not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
    return name


def _non_negative_int(raw: object) -> int:
    value = int(str(raw))
    if value < 0:
        raise ValueError(f"must be 0 or more, got {value}")
    return value


def _vad_engine(raw: object) -> str:
    name = str(raw).strip().lower()
    name = "webrtc" if name == "webrtcvad" else name
    if name not in ("auto", "silero", "webrtc"):
        raise ValueError(f"expected auto, silero or webrtc, got {raw!r}")
    return name


def _turn_detector(raw: object) -> str:
    return _choice(str(raw).replace("-", "_"), ("smart_turn", "silence"))


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


_ORIGIN = re.compile(r"^https?://[^/?#\s]+$")


def _origins(raw: object) -> tuple[str, ...]:
    """`*`, or a comma-separated list of origins (`scheme://host[:port]`, no path)."""
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    origins = tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())
    if not origins:
        raise ValueError("expected * or a comma-separated list of origins")
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
    if "*" in origins and len(origins) > 1:
        raise ValueError("* already allows every origin: give it alone")
    return origins


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    help: str
    parse: Callable[[Any], Any] = str
    metavar: str = "TEXT"
    flag_only: bool = False
    #: shorter flags meaning the same
    aliases: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "OPENREPLICA_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("host", "address to bind (default 127.0.0.1)", metavar="HOST"),
    Option("port", "port to listen on (default 8000)", int, "PORT"),
    Option(
        "api_key",
        "the API key clients send as `x-api-key`; without one, REST auth is off and the "
        "server only binds to loopback",
        metavar="KEY",
    ),
    Option(
        "data_dir",
        "the database, and portraits in DIR/replicas (default $XDG_DATA_HOME/openreplica or "
        "~/.local/share/openreplica)",
        Path,
        "DIR",
    ),
    Option(
        "database_url",
        "SQLAlchemy async URL (default sqlite+aiosqlite in DATA_DIR; e.g. "
        "postgresql+asyncpg://user:pw@host/db)",
        metavar="URL",
        aliases=("--database",),
    ),
    Option(
        "redis_url",
        "join a cluster coordinated through this Redis, e.g. redis://host:6379/0 "
        "(needs --node-url and a shared --database; docs/scaling.md)",
        metavar="URL",
        aliases=("--redis",),
    ),
    Option("node_url", "where the other cluster nodes reach this one", metavar="URL"),
    Option("node_id", "this node's id in the cluster (default: from --node-url)", metavar="ID"),
    Option(
        "node_capacity", "conversations this node hosts at most (default 0: no limit)", int, "N"
    ),
    Option("node_heartbeat", "seconds between cluster heartbeats (default 0.5)", float, "S"),
    Option(
        "node_ttl", "seconds a node stays live after its last heartbeat (default 3)", float, "S"
    ),
    Option(
        "workers",
        "run N node processes behind one port, coordinated like a cluster (needs --redis "
        "and a PostgreSQL --database; default 0: this process serves alone)",
        int,
        "N",
    ),
    Option(
        "public_url",
        "the base URL clients reach this server at, used for conversation_url "
        "(default http://HOST:PORT)",
        metavar="URL",
    ),
    Option(
        "llm_base_url",
        "default OpenAI-compatible LLM endpoint for personas that name none",
        metavar="URL",
    ),
    Option("llm_api_key", "API key of the default LLM", metavar="KEY"),
    Option("llm_model", "model name of the default LLM", metavar="NAME"),
    Option(
        "llm_model_path",
        "a local GGUF chat model run in-process (pip install 'openreplica[llama]'; "
        "`openreplica models pull` fetches one); used by personas with no LLM of their own",
        metavar="FILE",
    ),
    Option(
        "tts_engine",
        "default TTS engine for personas that name none: piper (default), espeak, openai",
        metavar="NAME",
    ),
    Option(
        "stt_engine",
        "default speech recognition engine: pocketsphinx (default), openai, faster-whisper",
        metavar="NAME",
    ),
    Option(
        "asr_workers",
        "processes running the PocketSphinx decoders (default 1, about one core's worth of "
        "decoding; 0: in the server process, where its final pass stalls the event loop)",
        _non_negative_int,
        "N",
    ),
    Option(
        "vad_engine",
        "voice activity detection for personas that name none: auto (default: silero "
        "when the silero-vad package is installed, else webrtcvad), silero, webrtc",
        _vad_engine,
        "NAME",
    ),
    Option(
        "turn_detector",
        "what ends a user's turn at a pause: smart_turn (default: the Smart Turn v3 "
        "end-of-turn model, when `openreplica models pull turn` has fetched it; else "
        "silence) or silence (a fixed pause per sensitivity level)",
        _turn_detector,
        "NAME",
    ),
    Option(
        "turn_model_path",
        "the Smart Turn ONNX file (default: <data dir>/models/smart-turn-v3.2-cpu.onnx)",
        metavar="PATH",
    ),
    Option(
        "webhook_secret",
        "sign webhooks with HMAC-SHA256: Standard Webhooks `webhook-signature` (a "
        "`whsec_<base64>` secret is decoded) and X-OpenReplica-Signature: sha256=<hex>",
        metavar="SECRET",
    ),
    Option("webhook_max_attempts", "attempts per webhook delivery (default 5)", int, "N"),
    Option(
        "webhook_retry_delay",
        "first retry delay in seconds, doubled after each failure (default 1)",
        float,
        "SECONDS",
    ),
    Option("webhook_timeout", "seconds to wait for a webhook receiver (default 10)", float, "S"),
    Option(
        "webhook_shutdown_grace",
        "seconds pending webhooks are still tried when the server stops; the rest are "
        "made at the next start (default 5)",
        float,
        "S",
    ),
    Option(
        "webhook_lease",
        "seconds a node's lease on a webhook delivery lasts without renewal; another node "
        "takes over a dead node's deliveries after it (default 30)",
        float,
        "S",
    ),
    Option(
        "max_message_bytes",
        "largest data-channel message accepted (default 1048576)",
        int,
        "BYTES",
    ),
    Option("rate_limit", "interactions per second per connection (default 20)", float, "N"),
    Option("rate_burst", "burst of interactions allowed per connection (default 40)", int, "N"),
    Option(
        "conversation_rate_limit",
        "interactions per second per conversation, all its connections together (default 40)",
        float,
        "N",
    ),
    Option(
        "conversation_rate_burst",
        "burst of interactions allowed per conversation (default 80)",
        int,
        "N",
    ),
    Option(
        "max_body_bytes",
        "largest JSON request body of a REST route; larger ones get 413 (default 65536)",
        int,
        "BYTES",
    ),
    Option(
        "max_offer_bytes",
        "largest WebRTC offer request body; larger ones get 413 (default 262144)",
        int,
        "BYTES",
    ),
    Option(
        "max_persona_bytes",
        "largest persona (JSON-encoded) at create and after a PATCH; larger get 400 "
        "(default 65536)",
        int,
        "BYTES",
    ),
    Option(
        "max_utterance_chars",
        "characters one replica utterance may speak; longer echo text is refused with "
        "invalid_properties, longer LLM replies are cut (default 10000)",
        int,
        "N",
    ),
    Option(
        "max_echo_audio_ahead",
        "seconds of echoed audio that may wait ahead of playout; a chunk past it is refused "
        "with audio_buffer_full (default 30)",
        float,
        "S",
    ),
    Option(
        "tts_ahead",
        "seconds of synthesised speech the TTS may run ahead of playout (default 10)",
        float,
        "S",
    ),
    Option(
        "participant_left_timeout",
        "default seconds before a conversation ends after its last participant left (60)",
        float,
        "S",
    ),
    Option(
        "participant_absent_timeout",
        "default seconds before a conversation nobody joined ends (300)",
        float,
        "S",
    ),
    Option(
        "max_call_duration",
        "default longest conversation in seconds, counted from the replica joining (3600)",
        float,
        "S",
    ),
    Option("log_level", "debug, info, warning or error (default info)", metavar="LEVEL"),
    Option(
        "log_format",
        "text (default) or json: one JSON object per line",
        lambda raw: _choice(raw, ("text", "json")),
        "FORMAT",
    ),
    Option(
        "webrtc_loopback",
        "offer 127.0.0.1 as a WebRTC host candidate (default: on when bound to loopback)",
        _bool,
        "BOOL",
    ),
    Option(
        "webrtc_ice_servers",
        "STUN/TURN servers for WebRTC, also given to the call page: comma-separated URLs, or "
        'JSON [{"urls": ..., "username": ..., "credential": ...}] (default none)',
        lambda raw: parse_ice_servers(str(raw)),
        "SERVERS",
    ),
    Option(
        "webrtc_video_size",
        "replica video size WxH (default 384x384)",
        lambda raw: parse_video_size(str(raw)),
        "WxH",
    ),
    Option("webrtc_video_fps", "replica video frame rate (default 25)", int, "FPS"),
    Option(
        "webrtc_camera_fps",
        "user camera frames kept per second for perception (default 2)",
        float,
        "FPS",
    ),
    # --- observability (docs/operations.md)
    Option("metrics", "serve Prometheus metrics at GET /metrics (default true)", _bool, "BOOL"),
    Option(
        "traces",
        "OpenTelemetry traces, one per turn: off (default) or otlp (needs "
        "pip install 'openreplica[otel]' opentelemetry-exporter-otlp)",
        lambda raw: _choice(raw, ("off", "otlp")),
        "EXPORTER",
    ),
    Option(
        "otlp_endpoint",
        "OTLP/HTTP traces endpoint for --traces otlp (default http://localhost:4318/v1/traces)",
        metavar="URL",
    ),
    Option(
        "cors_origins",
        "origins allowed to use the API, the offer endpoint and /static from a browser: * "
        "(default: any; credentials are headers and tokens, never cookies) or a "
        "comma-separated list like https://app.example.com,http://localhost:5173",
        _origins,
        "ORIGINS",
    ),
    Option(
        "face_models_dir",
        "the face models for photo replicas (default DATA_DIR/models/face, where "
        "`openreplica models pull face` puts them)",
        Path,
        "DIR",
    ),
    Option(
        "replica_fetch_private",
        "let POST /v2/replicas fetch train_image_url from private and loopback addresses "
        "(default off)",
        _bool,
        "BOOL",
    ),
    Option(
        "testing_scripted_plugins",
        "TESTING ONLY: replace every model with an instant tone TTS and an echoing LLM",
        _bool,
        "BOOL",
    ),
    Option(
        "testing_event_write_delay",
        "TESTING ONLY: seconds each batch of events waits before the database gets it",
        float,
        "S",
    ),
    # --- the hosted surface (issue 18)
    Option(
        "presence_interval",
        "seconds between system.replica_present heartbeats in a call (default 5; 0 = off)",
        float,
        "S",
    ),
    Option(
        "replica_interrupted",
        "send conversation.replica_interrupted beside an interrupted utterance (default true)",
        _bool,
        "BOOL",
    ),
    Option(
        "recording_max_bytes",
        "disk budget of all call recordings in DATA_DIR/recordings (default 5 GiB)",
        int,
        "BYTES",
    ),
    Option(
        "recording_fps", "video frames per second of call recordings (default 10)", float, "FPS"
    ),
)

assert {o.name for o in OPTIONS} <= {f.name for f in fields(ServerSettings)}
