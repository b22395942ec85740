"""One synthetic utterance through the real VAD and recogniser on the virtual clock, with
an end-of-turn model that records what it is asked: the recording loop that
scripts/train_turn_cues.py (fitting the cue model) and bench/turn_model_check.py
(checking a faster Smart Turn) share.

The caller's model answers "not over" and the caller keeps the cue model off, so the
turn commits only at the silence cap: every pause is scored and none is decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from speech_set import RATE, Utterance
from voice_harness import listening

from openreplica import protocol as p
from openreplica.engine import io as e
from openreplica.plugins.base import ASRModel, EndOfTurnModel, VADModel
from openreplica.plugins.scripted import ScriptedLLM, ScriptedTTS

__all__ = ["FRAME", "NEAR", "Hearing", "hear", "label"]

#: the decision belongs to a pause ending within this of the utterance's pause or end (s)
NEAR = 0.25
#: one VAD window (s): the clip scored at a pause ends a frame after the speech's end
FRAME = 512 / RATE


@dataclass(frozen=True, slots=True)
class Hearing:
    """What the runtime fed its engine for one utterance."""

    #: the scorer's turn starts half a second before its first speech (media time)
    turn_start: float
    scored: list[e.TurnScored]

    def clip_gap(self, clip: bytes, speech_end: float) -> float:
        """How far the end of `clip` (the turn's audio from `turn_start`) is from where
        the clip scored for the pause at `speech_end` ends (s)."""
        return abs(self.turn_start + len(clip) / (2 * RATE) - speech_end - FRAME)


async def hear(u: Utterance, turn: EndOfTurnModel, vad: VADModel, asr: ASRModel) -> Hearing:
    """Run `u` through `vad`, `asr` and `turn`; the turn must commit once, on silence."""
    h = await listening(
        tts=ScriptedTTS(sample_rate=RATE),
        llm=ScriptedLLM.replies(*["Sure."] * 20),
        vad=vad,
        asr=asr,
        turn=turn,
    )
    seen = h.record_inputs()
    await h.push(u.pcm)
    await h.clock.advance(2.0)
    await h.runtime.shutdown("end_conversation_endpoint_hit")
    commits = [x for _, x in h.of(p.Utterance) if x.properties.role == "user"]
    if len(commits) != 1 or commits[0].properties.turn_decided_by != "silence":
        raise RuntimeError(f"the recording committed mid-way: {u.text!r} {commits}")
    start = next(x for x in seen if isinstance(x, e.UserSpeechStarted)).media_time - 0.5
    return Hearing(start, [x for x in seen if isinstance(x, e.TurnScored)])


def label(u: Utterance, speech_end: float) -> bool | None:
    """Is the turn over at the pause ending at `speech_end`: False at a hesitant
    utterance's mid-sentence pause, True at the utterance's end, None for a short dip
    inside a sentence (left out)."""
    if u.pause is not None and abs(speech_end - u.pause[0]) < NEAR:
        return False
    if abs(speech_end - u.end) < NEAR:
        return True
    return None
