"""Visemes from audio alone (echoed audio has no text) against Piper's own alignments, on
sentences the classifier was not trained on, and through the runtime's playout clock."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field

import pytest

from openreplica import protocol as p
from openreplica.engine import EngineSettings
from openreplica.plugins.aligner import PocketsphinxAligner
from openreplica.plugins.base import AudioChunk
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS
from openreplica.plugins.viseme_audio import AudioVisemeModel, AudioVisemeStream, estimate
from openreplica.plugins.visemes import Viseme, VisemeMark, frame_agreement, viseme_at
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock
from openreplica.runtime.visemes import DEFAULT_LEAD_S

# None of these is among the training sentences (scripts/train_audio_visemes.py).
HELD_OUT = [
    "Hello, my name is Eileen. I flew on the space shuttle four times.",
    "Five people waited patiently by the bus stop in the freezing rain.",
    "Which flavour of ice cream would you choose, vanilla or chocolate?",
    "Bob bought a bunch of purple flowers for his mother's birthday.",
]


@pytest.fixture(scope="module")
def model() -> AudioVisemeModel:
    return AudioVisemeModel.load()


@pytest.fixture(scope="module")
def speech() -> list[AudioChunk]:
    """Each sentence as one chunk with Piper's alignment (noise off: reproducible)."""
    tts = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)

    async def run() -> list[AudioChunk]:
        out = []
        for text in HELD_OUT:
            chunks = [c async for c in tts.synthesize(text)]
            marks: list[VisemeMark] = []
            offset = 0
            for c in chunks:
                marks += [VisemeMark(m.offset + offset, m.viseme) for m in c.visemes]
                offset += c.samples
            out.append(
                AudioChunk(b"".join(c.pcm for c in chunks), chunks[0].sample_rate, tuple(marks))
            )
        return out

    return asyncio.run(run())


def test_the_estimate_agrees_with_piper_on_held_out_sentences(
    model: AudioVisemeModel, speech: list[AudioChunk]
) -> None:
    hits = baseline = total = 0
    for chunk in speech:
        h, n = frame_agreement(
            estimate(chunk.pcm, chunk.sample_rate, model),
            chunk.visemes,
            chunk.samples,
            chunk.sample_rate,
        )
        b, _ = frame_agreement(
            (VisemeMark(0, "relaxed"),), chunk.visemes, chunk.samples, chunk.sample_rate
        )
        hits, baseline, total = hits + h, baseline + b, total + n
    share, always_relaxed = hits / total, baseline / total
    print(
        f"audio-only visemes agree with Piper on {share:.1%} of frames "
        f"(always relaxed: {always_relaxed:.1%})"
    )
    assert share >= 0.75, f"audio-only visemes agree with Piper on {share:.0%} of frames"
    assert share >= always_relaxed + 0.15  # far better than guessing the commonest shape


def test_on_an_espeak_voice_it_never_heard_it_beats_guessing(model: AudioVisemeModel) -> None:
    """A female espeak-ng variant (not trained on), labelled by pocketsphinx forced
    alignment of the known text (itself ~90 % in line with Piper's timing)."""
    aligner = PocketsphinxAligner()
    tts = EspeakTTS(voice="en+f3")

    async def run() -> list[AudioChunk]:
        out = []
        for text in HELD_OUT:
            out += [c async for c in tts.synthesize(text)]
        return out

    chunks = asyncio.run(run())
    hits = baseline = total = 0
    for chunk, text in zip(chunks, HELD_OUT, strict=True):
        reference = aligner.align(chunk.pcm, chunk.sample_rate, text)
        h, n = frame_agreement(
            estimate(chunk.pcm, chunk.sample_rate, model),
            reference,
            chunk.samples,
            chunk.sample_rate,
        )
        b, _ = frame_agreement(
            (VisemeMark(0, "relaxed"),), reference, chunk.samples, chunk.sample_rate
        )
        hits, baseline, total = hits + h, baseline + b, total + n
    share, always_relaxed = hits / total, baseline / total
    print(f"espeak-ng en+f3: {share:.1%} of frames agree (always relaxed: {always_relaxed:.1%})")
    assert share >= always_relaxed + 0.05


def test_a_stream_in_small_chunks_labels_like_the_whole(
    model: AudioVisemeModel, speech: list[AudioChunk]
) -> None:
    chunk = speech[1]
    whole = estimate(chunk.pcm, chunk.sample_rate, model)
    stream = AudioVisemeStream(model)
    step = chunk.sample_rate // 25 * 2  # 40 ms chunks, as a client might send them
    pieces: list[VisemeMark] = []
    for start in range(0, chunk.samples, step):
        part = chunk.pcm[2 * start : 2 * (start + step)]
        pieces += [
            VisemeMark(m.offset + start, m.viseme) for m in stream.marks(part, chunk.sample_rate)
        ]
    same, frames = 0, chunk.samples * 100 // chunk.sample_rate
    for k in range(frames):
        at = round((k + 0.5) * chunk.sample_rate / 100)
        same += viseme_at(whole, at) == viseme_at(pieces, at)
    print(f"40 ms chunks: labels match the whole utterance's on {same / frames:.1%} of frames")
    assert same / frames >= 0.85, f"chunked labels match the whole on {same / frames:.0%} of frames"


def test_silence_is_rest(model: AudioVisemeModel) -> None:
    quiet = bytes(2 * 16000)
    assert [m.viseme for m in estimate(quiet, 16000, model)] == ["rest"]


@dataclass
class Sink:
    clock: VirtualClock
    visemes: list[tuple[float, Viseme]] = field(default_factory=list)
    frames: int = 0

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.frames += 1

    def write_viseme(self, viseme: Viseme) -> None:
        self.visemes.append((self.clock.now(), viseme))

    def rest(self) -> None:
        pass


async def _echo_through_runtime(
    chunk: AudioChunk, model: AudioVisemeModel | None
) -> tuple[Sink, float]:
    from openreplica.plugins.audio import resample

    clock = VirtualClock()
    runtime = ConversationRuntime(
        "echo-visemes",
        EngineSettings(output_sample_rate=16000),
        RuntimePlugins(
            tts=ScriptedTTS(sample_rate=16000),
            llm=ScriptedLLM.replies("x"),
            visemes_from_audio=model,
        ),
        clock,
    )
    sink = Sink(clock)
    runtime.add_speech_listener(sink)
    await runtime.start()
    pcm = resample(chunk.pcm, chunk.sample_rate, 16000)
    step = 16000 // 5 * 2  # 200 ms chunks
    start = clock.now()
    for i in range(0, len(pcm), step):
        props = {
            "modality": "audio",
            "audio": base64.b64encode(pcm[i : i + step]).decode(),
            "sample_rate": 16000,
            "inference_id": "e1",
            "done": i + step >= len(pcm),
        }
        message = json.dumps({"event_type": "conversation.echo", "properties": props})
        runtime.submit(p.decode_interaction(message), lambda err, _: None)
    await clock.advance(len(pcm) / 32000 + 1.0)
    await runtime.shutdown("done")
    return sink, start


async def test_echoed_audio_shows_estimated_visemes_on_the_playout_clock(
    model: AudioVisemeModel, speech: list[AudioChunk]
) -> None:
    chunk = speech[0]
    sink, start = await _echo_through_runtime(chunk, model)
    assert len(sink.visemes) >= chunk.duration * 50 - 2  # one per 20 ms frame played
    # Each frame shows the viseme due 40 ms ahead of it; compare with Piper's alignment.
    hits = 0
    for t, shown in sink.visemes:
        due = t - start - 0.02 + DEFAULT_LEAD_S  # the frame's start (written after it)
        near = {
            viseme_at(chunk.visemes, round((due + d) * chunk.sample_rate))
            for d in (-0.04, 0.0, 0.04)
        }
        hits += shown in near
    share = hits / len(sink.visemes)
    print(f"echoed audio: {share:.1%} of frames show Piper's viseme within one video frame")
    assert share >= 0.75
    assert {"mbp", "aa", "ee"} <= {v for _, v in sink.visemes}


async def test_without_a_model_echoed_audio_has_no_visemes(speech: list[AudioChunk]) -> None:
    sink, _ = await _echo_through_runtime(speech[0], None)
    assert sink.frames > 0 and sink.visemes == []  # the face follows the level instead
