"""Call recordings (SPEC §5 [added]): `properties.enable_recording: true`.

While the call runs, the recorder hears the replica's played-out speech (a speech
listener, like a WebRTC peer) and the user's microphone (a runtime user-audio tap); both
only queue timestamped chunks. One worker thread per recording mixes them, renders the
replica's face and
encodes a WebM file (`recording_writer.CallMix`), a little behind real time; nothing of
that runs on the event loop. When the conversation ends the worker finishes the file,
which is then renamed from `ID.webm.part` to `ID.webm` in `DATA_DIR/recordings` and served
by `GET /v2/conversations/{id}/recording`.

Disk use is bounded: all recordings together may use `max_total_bytes`; a call that
would start with the budget spent (or with less than `MIN_FREE_BYTES` free on the disk)
is not recorded, and one that reaches it stops recording; either way connections get a
`system.error` (`recording_unavailable`) once, the call goes on, and the reason is kept
beside the file (`ID.error`) for the REST answer.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openreplica.plugins.avatar.catalog import AvatarCatalog
from openreplica.protocol import ErrorCode, Event, ReplicaJoined, Shutdown
from openreplica.runtime import Clock, ConversationRuntime
from openreplica.server.recording_writer import CallMix, Chunk

__all__ = ["CallRecorder", "RecordingSettings", "Recordings"]

log = logging.getLogger(__name__)

RECORDING_UNAVAILABLE = ErrorCode.RECORDING_UNAVAILABLE
#: below this much free disk space no recording starts
MIN_FREE_BYTES = 64 * 1024 * 1024
#: the worker writes this far behind real time, so chunks that arrive late still fit
LAG_SECONDS = 0.5
#: how often the worker wakes to write
TICK_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    directory: Path
    #: all recordings together may use this many bytes
    max_total_bytes: int = 5 * 1024**3
    #: frames per second of the recorded face
    fps: float = 10.0
    width: int = 384
    height: int = 384


class CallRecorder:
    """One call being recorded: the taps (event loop) and the worker thread."""

    def __init__(
        self,
        mix: CallMix,
        clock: Clock,
        on_error: Callable[[str], None],
    ) -> None:
        self.mix = mix
        self._clock = clock
        #: the recording runs from the replica joining to `system.shutdown`
        self._start: float | None = None
        self._stop_at: float | None = None
        self._chunks: deque[Chunk] = deque()
        self._stop = threading.Event()
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="recording", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ taps (loop)

    def on_event(self, event: Event, _data: bytes) -> None:
        """A runtime listener: the call starts when the replica joins, ends at shutdown."""
        if isinstance(event, ReplicaJoined) and self._start is None:
            self._start = self._clock.now()
        elif isinstance(event, Shutdown):
            self._stop_at = self._clock.now()

    def write(self, pcm: bytes, sample_rate: int) -> None:
        """`AudioSink` (a speech listener): one frame of the replica's speech as played."""
        if self._start is not None and self._stop_at is None:
            at = self._clock.now() - self._start
            self._chunks.append(Chunk("replica", at, pcm, sample_rate))

    def user_audio(self, pcm: bytes, sample_rate: int, channels: int) -> None:
        """A runtime user-audio tap: the user's microphone."""
        if self._start is not None and self._stop_at is None:
            at = self._clock.now() - self._start
            self._chunks.append(Chunk("user", at, pcm, sample_rate, channels))

    async def finish(self) -> float | None:
        """Stop, write the rest, close the file; its duration, or None when it failed."""
        self._stop.set()
        await asyncio.to_thread(self._thread.join)
        return None if self.error else self.mix.seconds

    # ------------------------------------------------------------------ worker

    def _drain(self) -> list[Chunk]:
        chunks = []
        while self._chunks:
            chunks.append(self._chunks.popleft())
        return chunks

    def _run(self) -> None:
        try:
            while not self._stop.wait(TICK_SECONDS):
                if self._start is not None:
                    self.mix.add(self._drain())
                    self.mix.advance(self._clock.now() - self._start - LAG_SECONDS)
            if self._start is not None:
                self.mix.add(self._drain())
                self.mix.advance((self._stop_at or self._clock.now()) - self._start)
        except Exception as exc:  # a full disk, the budget, an encoder failure
            self.error = f"the recording stopped: {exc}"
            log.warning("%s: %s", self.mix.path.name, self.error)
            self._loop.call_soon_threadsafe(self._on_error, self.error)
            self._stop.wait()  # the call goes on; the taps' chunks are dropped at the end
        finally:
            try:
                self.mix.close()
            except Exception:
                log.exception("closing the recording %s failed", self.mix.path.name)


class Recordings:
    """The recordings directory: start, finish, find and delete recordings."""

    def __init__(self, settings: RecordingSettings, clock: Clock, faces: AvatarCatalog) -> None:
        self.settings = settings
        self._clock = clock
        self._faces = faces
        settings.directory.mkdir(parents=True, exist_ok=True)
        for stale in settings.directory.glob("*.webm.part"):  # a process that died recording
            cid = stale.name.removesuffix(".webm.part")
            self._path(cid, ".error").write_text(
                "the server stopped while this call was being recorded", encoding="utf-8"
            )
            stale.unlink()

    def _path(self, conversation_id: str, suffix: str) -> Path:
        if "/" in conversation_id or conversation_id.startswith("."):
            raise ValueError(f"not a conversation id: {conversation_id!r}")
        return self.settings.directory / f"{conversation_id}{suffix}"

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.settings.directory.iterdir() if p.is_file())

    def ready(self, conversation_id: str) -> Path | None:
        """The finished file, or None (not recorded, still recording, or failed)."""
        path = self._path(conversation_id, ".webm")
        return path if path.is_file() else None

    def failure(self, conversation_id: str) -> str | None:
        path = self._path(conversation_id, ".error")
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def start(
        self, runtime: ConversationRuntime, replica_id: str, audio_only: bool
    ) -> CallRecorder | None:
        """Start recording a call (its taps attached), or None with the reason reported."""
        cid = runtime.conversation_id
        budget = self.settings.max_total_bytes - self.used_bytes()
        free = shutil.disk_usage(self.settings.directory).free
        refusal = None
        if budget <= 0:
            refusal = (
                f"the recordings' disk budget ({self.settings.max_total_bytes} bytes, "
                "OPENREPLICA_RECORDING_MAX_BYTES) is used up: delete old conversations"
            )
        elif free < MIN_FREE_BYTES:
            refusal = f"the disk is full ({free} bytes free)"
        if refusal is not None:
            self._refuse(runtime, f"this call is not recorded: {refusal}")
            return None
        face = None
        if not audio_only and replica_id in self._faces:
            seed = zlib.crc32(cid.encode())
            face = self._faces.get(replica_id).create_stream(
                self.settings.width, self.settings.height, seed
            )
        mix = CallMix(self._path(cid, ".webm.part"), face, self.settings.fps, budget)
        recorder = CallRecorder(mix, self._clock, lambda error: self._failed(runtime, error))
        runtime.subscribe(recorder.on_event)
        runtime.add_speech_listener(recorder)
        runtime.user_audio_taps.append(recorder.user_audio)
        return recorder

    async def finish(self, runtime: ConversationRuntime, recorder: CallRecorder) -> float | None:
        """Detach and finish a recording: its duration once the file is ready, or None."""
        runtime.remove_speech_listener(recorder)
        if recorder.user_audio in runtime.user_audio_taps:
            runtime.user_audio_taps.remove(recorder.user_audio)
        duration = await recorder.finish()
        if duration is None:
            recorder.mix.path.unlink(missing_ok=True)
            return None
        recorder.mix.path.rename(self._path(runtime.conversation_id, ".webm"))
        return duration

    def delete(self, conversation_id: str) -> None:
        for suffix in (".webm", ".webm.part", ".error"):
            self._path(conversation_id, suffix).unlink(missing_ok=True)

    def _refuse(self, runtime: ConversationRuntime, message: str) -> None:
        """Keep the reason now; tell the call's connections once the replica has joined
        (before that nobody is subscribed to hear it)."""
        self._path(runtime.conversation_id, ".error").write_text(message, encoding="utf-8")
        loop = asyncio.get_running_loop()

        def on_event(event: Event, _data: bytes) -> None:
            if isinstance(event, ReplicaJoined):
                loop.call_soon(runtime.report_error, RECORDING_UNAVAILABLE, message)

        runtime.subscribe(on_event)

    def _failed(self, runtime: ConversationRuntime, message: str) -> None:
        self._path(runtime.conversation_id, ".error").write_text(message, encoding="utf-8")
        runtime.report_error(RECORDING_UNAVAILABLE, message)
