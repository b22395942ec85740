"""Visemes through the runtime on a virtual clock: stamped on playout, leading, cut."""

from __future__ import annotations

from dataclasses import dataclass, field

from openreplica.engine import EngineSettings
from openreplica.plugins.audio import rms
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS
from openreplica.plugins.visemes import Viseme
from openreplica.runtime import ConversationRuntime, RuntimePlugins, VirtualClock

RATE = 16000
RESPOND = '{"event_type": "conversation.respond", "properties": {"text": "%s"}}'
INTERRUPT = '{"event_type": "conversation.interrupt"}'


@dataclass
class Sink:
    clock: VirtualClock
    audio: list[tuple[float, bytes]] = field(default_factory=list)
    visemes: list[tuple[float, Viseme]] = field(default_factory=list)
    rested: list[float] = field(default_factory=list)

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.audio.append((self.clock.now(), pcm))

    def write_viseme(self, viseme: Viseme) -> None:
        # Written right after the frame's audio: it belongs to the last frame.
        assert self.audio and self.audio[-1][0] == self.clock.now()
        self.visemes.append((self.clock.now(), viseme))

    def rest(self) -> None:
        self.rested.append(self.clock.now())


async def _runtime(reply: str) -> tuple[ConversationRuntime, VirtualClock, Sink]:
    from openreplica import protocol as p

    clock = VirtualClock()
    # Each 200 ms word: 100 ms with lips pressed, then 100 ms open.
    tts = ScriptedTTS(sample_rate=RATE, ms_per_word=200, word_visemes=("mbp", "aa"))
    runtime = ConversationRuntime(
        "v1",
        # one segment (the face does not look ahead across a segment's end)
        EngineSettings(output_sample_rate=RATE, first_segment_words=0),
        RuntimePlugins(tts=tts, llm=ScriptedLLM.replies(reply)),
        clock,
    )
    sink = Sink(clock)
    runtime.add_speech_listener(sink)
    await runtime.start()
    runtime.submit(p.decode_interaction(RESPOND % "Hi"), lambda err, _: None)
    return runtime, clock, sink


async def test_each_played_frame_has_its_viseme_two_frames_ahead() -> None:
    runtime, clock, sink = await _runtime("ba ba ba ba")
    await clock.advance(3.0)
    speech = [t for t, pcm in sink.audio if rms(pcm) > 0]
    assert len(sink.visemes) == len(speech) == 40  # 4 words x 10 frames
    shapes = [v for _, v in sink.visemes]
    # Per word: audio is mbp for frames 0-4 and aa for 5-9; the face leads by 40 ms
    # (two frames), into the next word too; the last word ends open.
    assert shapes[:10] == ["mbp"] * 3 + ["aa"] * 5 + ["mbp"] * 2
    assert shapes[10:20] == shapes[20:30] == ["mbp"] * 3 + ["aa"] * 5 + ["mbp"] * 2
    assert shapes[30:] == ["mbp"] * 3 + ["aa"] * 7
    await runtime.shutdown("done")


async def test_an_interrupt_cuts_the_visemes_with_the_audio() -> None:
    from openreplica import protocol as p

    runtime, clock, sink = await _runtime("ba ba ba ba ba ba ba ba ba ba")
    await clock.advance(0.9)
    assert sink.visemes
    cut_at = clock.now()
    runtime.submit(p.decode_interaction(INTERRUPT), lambda err, _: None)
    await clock.advance(2.0)
    after = [t for t, _ in sink.visemes if t > cut_at]
    # At most the frame already being played; the face is at rest within 80 ms.
    assert all(t <= cut_at + 0.02 for t in after)
    assert sink.rested and sink.rested[0] <= cut_at + 0.02  # told to rest at once
    await runtime.shutdown("done")


@dataclass
class Ears:
    """A listener of the audio only (a call recording, say): no mouth shapes."""

    frames: int = 0

    def write(self, pcm: bytes, sample_rate: int) -> None:
        self.frames += 1


async def test_every_speech_listener_hears_each_frame_through_one_attachment_point() -> None:
    runtime, clock, face = await _runtime("ba ba ba ba ba ba")  # 6 words = 60 frames
    ears, late = Ears(), Ears()
    runtime.add_speech_listener(ears)
    await clock.advance(0.2)
    assert ears.frames == len(face.audio) > 0  # both hear every frame
    runtime.add_speech_listener(late)
    await clock.advance(0.2)
    assert 0 < late.frames < ears.frames  # from when it was attached on
    runtime.remove_speech_listener(face)
    heard_by_face = len(face.audio)
    assert heard_by_face == ears.frames
    await clock.advance(2.0)
    assert ears.frames == 60 and late.frames < 60
    assert len(face.audio) == heard_by_face  # removed: hears nothing more
    # only the face took mouth shapes, one per frame of speech it heard
    assert len(face.visemes) == len([t for t, pcm in face.audio if rms(pcm) > 0]) > 0
    runtime.remove_speech_listener(Ears())  # never attached: nothing happens
    await runtime.shutdown("done")
