"""The user's voice in: PCM from any transport -> VAD -> speech edges -> ASR -> engine.

    push(pcm, rate, channels)
      -> downmix -> streaming soxr resample to 16 kHz -> frames of the VAD's window
      -> VAD probability -> SpeechDetector (hysteresis) -> UserSpeechStarted / Ended
      -> while speech is going (plus a pre-roll ring buffer, so the first syllable
         is not lost): audio to the ASR stream -> UserTranscript(partial)
      -> at the first silent frame after speech and at each speech end: the latest
         partial at once; at the end, finish() -> UserTranscript(final), exactly once, even
         when the recogniser fails (then with "" and a broadcast `asr_unavailable`),
         just after UserSpeechMeasured (pace, loudness, pitch: `user_audio_analysis`),
         measured in a worker thread while the recogniser finishes
      -> with an end-of-turn model (`early_final`): finish() already runs at the first
         silent frame (`early_final_after`), while the detector is still confirming
         the pause; the final is held and fed at the confirmed end. It first lets
         the reply prepared at the pause get its first words to the TTS
         (`reply_head_start`) when the final pass holds the event loop and the GIL
         while it runs (PocketSphinx in-process).
         Should the speech resume instead (a dip shorter than the detector's
         `min_silence`), that final is dropped and the
         recogniser decodes the whole segment again from its start, so the transcript
         is the one it would have made without the early pass.
      -> with an end-of-turn model: at each speech end, the turn's audio is scored in
         a worker thread -> TurnScored (`turn_scoring.py`)
      -> the end's `detected_after` also counts the audio between where the sound
         stopped (`audible_end.py`) and the VAD's first silent frame: turn-ending
         pauses count from the sound, not from Silero's decaying probability
      -> and each edge's `detected_after` counts how late its audio arrived
         (`capture_time.py`): when the event loop was busy, audio waited and came in a
         burst, and the speech ended when it was captured, not when it was analysed

Recognition runs while the user talks, so little is left to do when the turn ends.
Media time is the count of 16 kHz samples received, never wall time. `push` is cheap
and synchronous (VAD is ~0.2 ms a window); the ASR work runs in one worker task, in
order, batching audio that queued up while it was busy. Call everything from the
event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from openreplica.engine import INTERRUPT_MIN_SPEECH, PAUSE_SILENCE, TURN_WAIT
from openreplica.engine import io as e
from openreplica.engine.speech_detector import DetectorSettings, SpeechDetector
from openreplica.plugins.audio import Resampler, stereo_to_mono
from openreplica.plugins.base import (
    ASRModel,
    ASRStream,
    EndOfTurnModel,
    PluginError,
    VADModel,
    VADStream,
)
from openreplica.protocol import ErrorCode
from openreplica.runtime.audible_end import LOOKBACK, audible_end
from openreplica.runtime.capture_time import CaptureTimes
from openreplica.runtime.speech_measure import measure_speech
from openreplica.runtime.turn_scoring import TurnScorer

__all__ = ["SAMPLE_RATE", "VoiceInput", "VoiceSettings", "VoiceTarget", "sensitivity_table"]

log = logging.getLogger(__name__)

#: the rate VAD and ASR work at
SAMPLE_RATE = 16000
#: the first this-many bytes of a speech segment are measured (60 s), so memory is bounded
MAX_MEASURED_BYTES = 2 * SAMPLE_RATE * 60
#: an early final pass (`VoiceSettings.early_final`) only while the segment is shorter
#: than this (8 s): a resumed segment is decoded again from its start
EARLY_FINAL_MAX_BYTES = 2 * SAMPLE_RATE * 8
#: segments up to this many bytes (2 s, well under a millisecond of numpy) are measured
#: inline; longer ones in a worker thread, never on the event loop
INLINE_MEASURE_BYTES = 2 * SAMPLE_RATE * 2


class VoiceTarget(Protocol):
    """What the voice path talks to (`ConversationRuntime`)."""

    def feed(self, item: e.EngineInput) -> None: ...

    def report_error(self, code: ErrorCode, message: str) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...

    async def reply_prepared(self, limit: float) -> None:
        """Return once a reply prepared at this pause has its first words at the TTS (or
        none is being prepared), or after `limit` seconds."""


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    #: seconds of audio before the confirmed onset that the recogniser also gets
    preroll: float = 0.2
    #: a final transcript that takes longer than this counts as an ASR failure
    final_timeout: float = 15.0
    #: seconds of speech between two partial captions (recognisers revise their guess
    #: every frame; clients need a caption a few times a second, not 30)
    partial_interval: float = 0.25
    #: with an end-of-turn model: run the recogniser's final pass before the detector
    #: confirms the end (see the module docstring), so the final is not what the turn
    #: waits for. The fixed-silence detector waits longer than the final pass anyway.
    early_final: bool = True
    #: …after this many seconds of silent frames (rounded to whole frames, at least one).
    #: One frame (32 ms with Silero): the pass starts with the prepared reply; on 2 cores
    #: without VNNI that brought the first audio 20-30 ms sooner once the LLM no longer
    #: stalled on a busy core (docs/voice.md), for one more word wrong in 532
    early_final_after: float = 0.032
    #: count the turn-ending pause from where the sound stopped (`audible_end.py`), up to
    #: 0.1 s before the VAD's first silent frame, rather than from that frame
    pause_from_audible_end: bool = True
    #: the early final pass first waits up to this long (seconds; 0: not at all) for the
    #: reply prepared at the pause to have its first words at the TTS: the final pass
    #: holds the event loop and the GIL (~90 ms for PocketSphinx), and the reply's LLM
    #: tokens cannot reach the TTS meanwhile; started first, the TTS (which lets go of
    #: the GIL) speaks them on the other core while the final pass runs. Only for an ASR
    #: whose `finish_holds_loop` (PocketSphinx in this process, `--asr-workers 0`)
    reply_head_start: float = 0.04


class _Finish:
    """Marker in the worker queue: the speech segment ended."""


_FINISH = _Finish()


class _Pausing:
    """Marker in the worker queue: the first silent frame after speech (maybe a pause)."""


_PAUSING = _Pausing()


class _Settling:
    """Marker in the worker queue: the speech has been silent `early_final_after`."""


_SETTLING = _Settling()


class _Resumed:
    """Marker in the worker queue: the speech went on after its first silent frame."""


_RESUMED = _Resumed()


class VoiceInput:
    def __init__(
        self,
        target: VoiceTarget,
        vad: VADModel,
        asr: ASRModel,
        settings: VoiceSettings | None = None,
        turn_model: EndOfTurnModel | None = None,
    ) -> None:
        self.settings = settings or VoiceSettings()
        self._target = target
        self._asr_model = asr
        self._asr: ASRStream = asr.create_stream()
        self._vad: VADStream = vad.create_stream()
        self._frame_samples = self._vad.frame_samples
        self.frame_duration = self._frame_samples / SAMPLE_RATE
        self.detector = SpeechDetector(self.frame_duration, self.settings.detector)
        self._scorer = (
            TurnScorer(turn_model, lambda item: self._target.feed(item), self.frame_duration)
            if turn_model is not None
            else None
        )
        self._resampler: Resampler | None = None
        self._pending = bytearray()  # 16 kHz audio not yet a whole frame
        self._frames = 0
        #: seconds of user audio received (at its own rate, before resampling)
        self.received = 0.0
        self._capture = CaptureTimes()
        self._late = 0.0  # how late the audio being analysed arrived (seconds)
        ring_frames = math.ceil(self.settings.preroll / self.frame_duration)
        self._ring: deque[bytes] = deque(maxlen=ring_frames + self.detector.min_speech_frames)
        self._queue: deque[bytes | _Finish | _Pausing | _Settling | _Resumed] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self._segment_failed = False
        self._closed = False
        self._partial_due = 0.0  # media time of the next partial caption
        self._partial = ""  # the recogniser's latest guess…
        self._partial_sent = ""  # …and the last one captioned
        self._segment_audio = bytearray()  # the current segment, for its measurement
        self._early_final = self.settings.early_final and turn_model is not None
        self._early_frames = max(
            1, round(self.settings.early_final_after / self.frame_duration - 1e-9)
        )
        self._silent_frames = 0  # silent frames in a row while speaking
        #: the segment's final, taken early at its first silent frame; the audio after
        #: it is only kept (in `_segment_audio`) until the speech resumes or ends
        self._early: str | None = None
        #: the last frames heard (enough to find where the sound stopped), and that
        #: estimate for the current first silent frame: (its media time, the estimate)
        self._recent: deque[bytes] = deque(maxlen=math.ceil(LOOKBACK / self.frame_duration) + 1)
        self._audible_end: tuple[float, float] | None = None
        #: the worker waits for the prepared reply (`reply_head_start`), not for audio
        self._parked = False

    # ------------------------------------------------------------------ input

    @property
    def media_time(self) -> float:
        """Seconds of 16 kHz audio analysed so far."""
        return self._frames * self.frame_duration

    def push(
        self, pcm: bytes, sample_rate: int, channels: int = 1, arrived: float | None = None
    ) -> None:
        """User audio: 16-bit PCM, any rate, mono or interleaved multi-channel.

        `arrived`: when it arrived, on the runtime's clock. An edge found in it is fed
        (at once) with a `detected_after` that also counts how late its audio arrived
        (`capture_time.py`), so it counts from the audio's capture; without it, from
        the audio's analysis."""
        if self._closed or not pcm:
            return
        self._start_worker()
        mono = stereo_to_mono(pcm, channels) if channels > 1 else pcm
        if self._resampler is None or self._resampler.from_rate != sample_rate:
            if self._resampler is not None:
                self._pending += self._resampler.flush()
            self._resampler = Resampler(sample_rate, SAMPLE_RATE)
        self.received += (len(mono) // 2) / sample_rate
        if arrived is not None:
            self._late = self._capture.arrived(self.received, arrived)
        self._pending += self._resampler.process(mono)
        frame_bytes = 2 * self._frame_samples
        while len(self._pending) >= frame_bytes:
            frame = bytes(self._pending[:frame_bytes])
            del self._pending[:frame_bytes]
            self._on_frame(frame)

    def end_of_stream(self) -> None:
        """The microphone stopped (muted, track ended): close any speech going on."""
        edge = self.detector.close(self.media_time)
        self._ring.clear()
        if self._resampler is not None:
            self._resampler.reset()
        self._pending.clear()
        self.received = self.media_time  # the unanalysed tail was dropped
        self._capture.reset()  # audio after this starts a new stream
        self._late = 0.0
        if edge is not None:
            self._target.feed(edge)
            self._enqueue(_FINISH)
            if self._scorer is not None:
                self._scorer.speech_ended(edge.media_time)

    def _on_frame(self, frame: bytes) -> None:
        start = self.media_time
        self._frames += 1
        try:
            probability = self._vad.speech_probability(frame)
        except Exception:  # a broken VAD frame is silence, not a dead conversation
            log.exception("VAD failed on a frame")
            probability = 0.0
        was_speaking = self.detector.speaking
        was_pending = self.detector.pending
        if self._scorer is not None:
            self._scorer.frame(start, frame)
        self._recent.append(frame)
        edge = self.detector.push(probability, start)
        if edge is None and self.detector.speaking and self.detector.pending and not was_pending:
            self._audible_end = (start, self._sound_stopped(start))
        if self._scorer is not None and edge is None and self.detector.speaking:
            if self.detector.pending and not was_pending:  # the first silent frame
                self._scorer.speech_ending(start, self._partial)
            elif was_pending and not self.detector.pending:
                self._scorer.speech_resumed()
        resumed = edge is None and was_pending and self.detector.speaking
        resumed = resumed and not self.detector.pending
        if edge is not None:
            # Audio that had arrived but was not analysed yet (resampler delay, a
            # partial frame) adds to how late the edge is known, and so does the
            # time the audio waited before it arrived here.
            lag = max(0.0, self.received - self.media_time) + self._late
            if isinstance(edge, e.UserSpeechEnded) and self._audible_end is not None:
                vad_end, sound_end = self._audible_end
                if vad_end == edge.media_time:  # the pause counts from the sound's end
                    lag += vad_end - sound_end
            edge = replace(edge, detected_after=edge.detected_after + lag)
        if isinstance(edge, e.UserSpeechStarted):
            self._partial_due = start + self.settings.partial_interval
            self._partial = self._partial_sent = ""
            # the ring holds the pre-roll and the frames that confirmed the onset
            self._ring.append(frame)
            self._enqueue(b"".join(self._ring))
            self._ring.clear()
            if self._scorer is not None:
                self._scorer.speech_started(edge.media_time)
            self._target.feed(edge)
        elif was_speaking:
            self._enqueue(frame)
            if edge is None and self.detector.pending and not was_pending:
                self._enqueue(_PAUSING)  # the words so far go out as soon as recognised
            elif resumed:
                self._enqueue(_RESUMED)
            self._silent_frames = self._silent_frames + 1 if self.detector.pending else 0
            if edge is None and self._early_final and self._silent_frames == self._early_frames:
                self._enqueue(_SETTLING)
            if isinstance(edge, e.UserSpeechEnded):
                self._target.feed(edge)
                self._enqueue(_FINISH)
                if self._scorer is not None:
                    self._scorer.speech_ended(edge.media_time)
        else:
            self._ring.append(frame)

    def _sound_stopped(self, vad_end: float) -> float:
        """At the first silent frame (starting at `vad_end`): where the sound stopped."""
        if not self.settings.pause_from_audible_end:
            return vad_end
        pcm = b"".join(self._recent)
        return audible_end(pcm, self.media_time, vad_end, SAMPLE_RATE)

    # ------------------------------------------------------------------ ASR worker

    def _enqueue(self, item: bytes | _Finish | _Pausing | _Settling | _Resumed) -> None:
        self._queue.append(item)
        if not self._parked:  # (waiting for the reply, the worker counts as idle)
            self._idle.clear()
        self._wake.set()
        self._start_worker()

    def _start_worker(self) -> None:
        """On the first audio: the recogniser gets ready before the user speaks."""
        if self._worker is None:
            self._idle.clear()
            self._worker = self._target.spawn(self._run(), "voice-asr")

    async def drain(self) -> None:
        """Wait until the recogniser (and the end-of-turn model) caught up with
        everything pushed so far."""
        await self._idle.wait()
        if self._scorer is not None:
            await self._scorer.drain()

    async def _run(self) -> None:
        await self._prepare()
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue.popleft()
            if isinstance(item, _Finish):
                self._flush_partial()
                await self._finish()
                continue
            if isinstance(item, _Pausing):
                self._flush_partial()
                self._target.feed(e.UserSpeechPausing())  # a reply may be prepared now
                continue
            if isinstance(item, _Settling):
                await self._finish_early()
                continue
            if isinstance(item, _Resumed):
                self._target.feed(e.UserSpeechResumed())
                await self._resume()
                continue
            # Audio that queued up while the recogniser was busy goes in one push.
            parts = [item]
            while self._queue and isinstance(self._queue[0], bytes):
                parts.append(self._queue.popleft())  # type: ignore[arg-type]
            await self._push(b"".join(parts))

    async def _push(self, pcm: bytes, *, again: bool = False) -> None:
        room = MAX_MEASURED_BYTES - len(self._segment_audio)
        if room > 0 and not again:  # (audio heard again is in already)
            self._segment_audio += pcm[:room]
        if self._early is not None:
            return  # after an early final: kept until the speech resumes or ends
        if self._segment_failed:
            return
        try:
            transcript = await self._asr.push(pcm)
        except Exception as exc:
            self._fail(exc)
            return
        if transcript is not None and transcript.text.strip():
            self._partial = transcript.text.strip()
        if self._partial != self._partial_sent and self.media_time >= self._partial_due:
            self._partial_due = self.media_time + self.settings.partial_interval
            self._partial_sent = self._partial
            self._target.feed(e.UserTranscript(self._partial, final=False))

    def _flush_partial(self) -> None:
        """The speech's audio is all in (at its first silent frame, and at its confirmed
        end): the latest guess goes out now, whatever the caption interval, before the
        final pass (~90 ms of CPU) runs. A reply is prepared on it once the pause is
        confirmed (the final usually says the same)."""
        if self._partial and self._partial != self._partial_sent:
            self._partial_sent = self._partial
            self._target.feed(e.UserTranscript(self._partial, final=False))

    async def _finish_early(self) -> None:
        """`early_final_after` of silence: the final pass now, its text held for the end."""
        if self._early is not None or len(self._segment_audio) > EARLY_FINAL_MAX_BYTES:
            return
        await self._reply_head_start()
        if any(isinstance(item, _Resumed) for item in self._queue):
            return  # the speech went on meanwhile: no final for it yet
        self._early = await self._final_text()
        if self._early:  # the reply prepared at the pause answers the final's words
            self._partial = self._early
            self._flush_partial()

    async def _reply_head_start(self) -> None:
        """Let the reply prepared at this pause reach the TTS first (`reply_head_start`).
        Meanwhile the worker waits on the reply, not on audio: `drain` may return."""
        if self.settings.reply_head_start <= 0 or not self._asr_model.finish_holds_loop:
            return  # the TTS gets its share of the CPU during the final pass anyway
        self._parked = True
        self._idle.set()
        try:
            await self._target.reply_prepared(self.settings.reply_head_start)
        finally:
            self._parked = False
            self._idle.clear()

    async def _resume(self) -> None:
        """The speech went on: the recogniser hears the whole segment again, as one
        utterance (splitting it in two would cost words at the seam)."""
        if self._early is None:
            return
        self._early = None
        await self._push(bytes(self._segment_audio), again=True)

    async def _final_text(self) -> str:
        """The recogniser's final ("" if it failed, reported once per segment)."""
        if self._segment_failed:
            return ""
        try:
            final = await asyncio.wait_for(self._asr.finish(), self.settings.final_timeout)
        except TimeoutError:
            self._fail(PluginError(f"no transcript after {self.settings.final_timeout:g} s"))
        except Exception as exc:
            self._fail(exc)
        else:
            return final.text.strip()
        return ""

    async def _finish(self) -> None:
        """One final per speech segment, whatever happens."""
        text = ""
        audio, self._segment_audio = bytes(self._segment_audio), bytearray()
        measuring = asyncio.create_task(self._measure(audio))
        early, self._early = self._early, None
        try:
            if early is not None:
                text = early
            elif not self._segment_failed:
                final = await asyncio.wait_for(self._asr.finish(), self.settings.final_timeout)
                text = final.text
        except TimeoutError:
            self._fail(PluginError(f"no transcript after {self.settings.final_timeout:g} s"))
        except Exception as exc:
            self._fail(exc)
        finally:
            if self._segment_failed:
                await self._replace_stream()
            self._segment_failed = False
            try:
                self._target.feed(e.UserSpeechMeasured(await measuring))
            except Exception:  # the analysis is optional; the transcript is not
                log.exception("measuring the user's speech failed")
            self._target.feed(e.UserTranscript(text.strip(), final=True))
            if self._scorer is not None:
                self._scorer.final_transcript(text)

    @staticmethod
    async def _measure(audio: bytes) -> e.SpeechMeasurement:
        if len(audio) <= INLINE_MEASURE_BYTES:
            return measure_speech(audio, SAMPLE_RATE)
        return await asyncio.to_thread(measure_speech, audio, SAMPLE_RATE)

    def _fail(self, exc: BaseException) -> None:
        """Report once per segment; the segment's final will be empty."""
        if self._segment_failed:
            return
        self._segment_failed = True
        self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if not isinstance(exc, PluginError):
            log.error("ASR %s failed", self._asr_model.name, exc_info=exc)
        message = f"speech recognition ({self._asr_model.name}) failed: {exc}"
        self._target.report_error(ErrorCode.ASR_UNAVAILABLE, message)

    async def _prepare(self) -> None:
        """Streams that load something (a decoder) may do it now, not mid-speech."""
        prepare = getattr(self._asr, "prepare", None)
        if prepare is None:
            return
        try:
            await prepare()
        except Exception as exc:  # reported now; each segment will try again
            self._report(exc)

    async def _replace_stream(self) -> None:
        """After a failure, start the next segment on a fresh recogniser stream."""
        old = self._asr
        self._asr = self._asr_model.create_stream()
        try:
            await old.aclose()
        except Exception:
            log.exception("closing a failed ASR stream")
        await self._prepare()

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._queue.clear()
        self._idle.set()
        if self._scorer is not None:
            await self._scorer.aclose()
        try:
            await self._asr.aclose()
        except Exception:
            log.exception("closing the ASR stream")


def sensitivity_table() -> str:
    """The Markdown table of what each sensitivity level means, from the engine's
    mappings (the README and docs/voice.md print exactly this)."""
    rows = [
        "| level | end-of-turn model says complete: commit after | says incomplete: wait "
        "up to | fixed silence (`turn_detector` = `silence`, or no model) | "
        "`participant_interrupt_sensitivity`: speech needed to interrupt |",
        "|---|---|---|---|---|",
    ]
    for level in PAUSE_SILENCE:
        wait = TURN_WAIT[level]
        cells = (wait.floor, wait.cap, PAUSE_SILENCE[level], INTERRUPT_MIN_SPEECH[level])
        rows.append(f"| `{level}` | " + " | ".join(f"{round(x * 1000)} ms" for x in cells) + " |")
    return "\n".join(rows) + "\n"
