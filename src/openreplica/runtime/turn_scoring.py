"""The end-of-turn model beside the VAD: at each end of speech, score the turn so far.

`TurnScorer` keeps the last 8 s of the user's 16 kHz audio (what the model looks at).
At the first silent frame after speech it takes the turn's audio (from half a second
before the turn's first speech, up to that frame) and starts scoring it with the model
in a worker thread (tens of ms of CPU that must not block the event loop); when the
detector confirms the end (`UserSpeechEnded`, a few frames later) the decision is fed to
the engine as `TurnScored`. Were it started at the confirmed end instead, it would
queue behind the recogniser's final pass (which holds the GIL) and land ~150 ms later.
If the speech resumes first, the early decision is dropped. A turn, for this purpose,
is the speech since the last silence longer than `turn_gap` (a committed turn is always
followed by one). A model failure feeds a None probability: the fixed silence decides.
Decisions reach the engine in the order the speech ended, however long each took.

The words count too: the decision waits for the segment's final transcript (which the
turn cannot commit without anyway) and asks the model's language model how likely a
sentence is to end after the turn's last words. Below `TEXT_END_MIN` ("I'd like a…",
"we should probably…"), or on a word no sentence ends with ("the", "to": the engine's
`trailing_words`), the turn is called incomplete whatever the audio sounded like: the
fed probability is then the lower of the two.

So the audio model only matters when the words allow a finished sentence. When the
recogniser's guess at the first silent frame already says "not finished", the model is
not started (it could not change the decision: ~30 ms of CPU saved); should the final
transcript then read as finished after all, the model runs on it then, a little later.

With the cue model (`plugins/turn_cues.py`, on by default) the lowering by the words gives
way to one logistic model over the audio model's probability, the words' (after the last
two words and after the last one) and the prosody just before the pause
(`plugins/turn_prosody.py`, computed in the same worker thread, ~1-2 ms) whenever the
audio model ran; the rule above stays for when the words or the
prosody are missing. A turn whose words said "not finished" before the model was asked
stays unfinished either way.

Nor is the audio model run when the cue model's verdict cannot depend on it: its logit
is clipped to ±4, so the words and the prosody (computed first, in the worker thread)
bound the probability it could give; when both bounds lie on one side of the decision
point the verdict stands without it. The check is made on the guess at the first silent
frame (so the model is not started) and again on the final transcript; when the guess
settled the verdict and the final does not, the model runs then, on the same audio.
That is exact (no verdict changes) and saves the model's CPU on those pauses: tens of
ms, four times that on a CPU without int8 dot-product instructions (AVX-512 VNNI).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from openreplica.engine import COMPLETE_PROBABILITY
from openreplica.engine import io as e
from openreplica.engine.trailing_words import ends_mid_sentence
from openreplica.plugins.base import EndOfTurnModel, RunStop
from openreplica.plugins.turn_cues import TurnCues
from openreplica.plugins.turn_cues_weights import TURN_CUES
from openreplica.plugins.turn_prosody import ProsodyFeatures, prosody_features
from openreplica.plugins.turn_text import last_word

__all__ = ["TurnScorer"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: the model looks at the last 8 s
WINDOW = 8.0
#: P(a sentence ends after the turn's last two words) below this: the turn is not over.
#: Chosen on the tuning half of the larger synthetic set only (tests/support/speech_set.py,
#: Piper and espeak-ng, 40 complete + 40 hesitant utterances): the fewest hesitant ones
#: called complete (3 of 40) while at least half the complete ones still are (20 of 40).
#: Offline on the held-out half: 5 of 40 hesitant called complete, 27 of 40 complete.
TEXT_END_MIN = 0.12

#: what the worker thread hears in the turn's audio: the model's probability (None: it
#: failed), the prosody (None: not asked for, or too little voiced speech), and whether
#: the model was run at all (not when the words and the prosody settled the verdict)
AudioCues = tuple[float | None, ProsodyFeatures | None, bool]
FeedFn = Callable[[e.EngineInput], None]
T = TypeVar("T")


class TurnScorer:
    def __init__(
        self,
        model: EndOfTurnModel,
        feed: FeedFn,
        frame_duration: float,
        *,
        preroll: float = 0.5,
        turn_gap: float = 3.0,
        cues: TurnCues | None = TURN_CUES,
    ) -> None:
        """`cues`: the model weighing audio, words and prosody together; None: the audio
        model's probability, lowered by the words below `TEXT_END_MIN`."""
        self._model = model
        self._cues = cues
        self._feed = feed
        self._frame_duration = frame_duration
        self._preroll = preroll
        self._turn_gap = turn_gap
        self._frames: deque[tuple[float, bytes]] = deque(maxlen=int(WINDOW / frame_duration) + 2)
        self._turn_start = 0.0
        self._last_end: float | None = None
        #: a decision started at the first silent frame, before the end is confirmed
        #: (None in place of the task: the guess's words said "not finished"), and the
        #: turn's audio up to that frame (what the model hears, run then or later)
        self._early: tuple[float, asyncio.Task[AudioCues] | None, bytes] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one model call at a time
        #: the latest segment's delivery: each waits for the one before, so the engine
        #: hears the decisions in the order the speech ended (their threads may not be)
        self._delivery: asyncio.Task[None] | None = None
        #: the current turn's final transcripts, and the ended segments awaiting theirs
        self._turn_texts: list[str] = []
        self._awaiting_text: deque[tuple[asyncio.Future[str], list[str]]] = deque()

    def frame(self, start: float, pcm: bytes) -> None:
        """Every analysed 16 kHz frame, speech or not, with its media time."""
        self._frames.append((start, pcm))

    def speech_started(self, media_time: float) -> None:
        self._early = None
        if self._last_end is None or media_time - self._last_end > self._turn_gap:
            self._turn_start = media_time - self._preroll
            self._turn_texts = []

    def speech_ending(self, speech_end: float, guess: str = "") -> None:
        """The first silent frame after speech: start deciding now, so the decision is
        (nearly) ready when the detector confirms the end a few frames later; unless the
        recogniser's `guess` at this segment's words says the turn is not finished."""
        words = " ".join([*self._turn_texts, guess.strip()]).strip()
        audio = self._turn_audio()
        if guess.strip() and self.words_bound(words) is not None:
            self._early = (speech_end, None, audio)
            return
        self._early = (speech_end, self._start(self._listen(audio, words)), audio)

    def speech_resumed(self) -> None:
        """The silence was too short to end the speech: that early decision is moot.
        Cancelled, it lets go of the model at once, so the decision at the real end does
        not queue behind it (~80 ms on a CPU without VNNI), and its run in the worker
        thread is stopped (`RunStop`): that CPU goes to the recogniser and the reply."""
        early, self._early = self._early, None
        if early is not None and early[1] is not None:
            early[1].cancel()

    def speech_ended(self, speech_end: float) -> None:
        self._last_end = speech_end
        early, self._early = self._early, None
        decision: asyncio.Task[AudioCues] | None
        if early is not None and early[0] == speech_end:
            _, decision, audio = early
        else:
            audio = self._turn_audio()
            decision = self._start(self._listen(audio, None))
        text: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._awaiting_text.append((text, self._turn_texts))
        delivery = self._start(self._deliver(speech_end, decision, text, audio, self._delivery))
        self._delivery = delivery
        self._track(delivery)

    def final_transcript(self, text: str) -> None:
        """The final transcript of the oldest ended segment ("" when none was heard)."""
        if not self._awaiting_text:
            return
        future, turn_texts = self._awaiting_text.popleft()
        if text.strip():
            turn_texts.append(text.strip())
        if not future.done():
            future.set_result(" ".join(turn_texts))

    def _turn_audio(self) -> bytes:
        return b"".join(pcm for start, pcm in self._frames if start >= self._turn_start)

    def _start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return asyncio.get_running_loop().create_task(coro)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, audio: bytes, words: str | None) -> AudioCues:
        """The prosody (~1-3 ms), then the audio model unless `words` (None: not known
        yet) and the prosody settle the verdict without it."""
        prosody = None
        if self._cues is not None:
            prosody = await asyncio.to_thread(prosody_features, audio)
            if words is not None and self._settled(words, prosody) is not None:
                return None, prosody, False
        return await self._probability(audio), prosody, True

    async def _probability(self, audio: bytes) -> float | None:
        async with self._lock:
            stop = RunStop()
            try:
                return await asyncio.to_thread(self._model.completion_probability, audio, stop)
            except asyncio.CancelledError:
                stop.stop()  # a moot decision: its thread stops too, not just the wait
                raise
            except Exception:
                log.exception("the end-of-turn model %s failed", self._model.name)
                return None

    def _settled(self, words: str, prosody: ProsodyFeatures | None) -> float | None:
        """The probability to feed when the cue model's verdict on `words` and `prosody`
        is the same whatever the audio model says (the bound nearest the decision point),
        else None."""
        if self._cues is None:
            return None
        span = self._cues.probability_range(
            self._model.sentence_end_probability(words),
            self._model.sentence_end_probability(last_word(words)),
            prosody,
        )
        if span is None:
            return None
        low, high = span
        if low >= COMPLETE_PROBABILITY:
            return low
        return high if high < COMPLETE_PROBABILITY else None

    def words_bound(self, words: str) -> float | None:
        """What the words alone allow the turn's probability to be: P(end of sentence)
        when under `TEXT_END_MIN`, 0 when they stop on a word no sentence ends with;
        None when they read as a finished sentence (the audio decides)."""
        return _bound(words, self._model.sentence_end_probability(words))

    async def _deliver(
        self,
        speech_end: float,
        decision: asyncio.Task[AudioCues] | None,
        text: asyncio.Future[str],
        audio: bytes,
        previous: asyncio.Task[None] | None,
    ) -> None:
        probability = await self._decide(decision, text, audio)
        if previous is not None:
            await asyncio.wait([previous])  # its failure or cancellation is its own
        self._feed(e.TurnScored(speech_end, probability))

    async def _decide(
        self, decision: asyncio.Task[AudioCues] | None, text: asyncio.Future[str], audio: bytes
    ) -> float | None:
        """The probability to feed for a segment, once its final transcript is known."""
        words = await text
        ends = self._model.sentence_end_probability(words)
        bound = _bound(words, ends)
        if decision is None and bound is None:  # the guess said "not finished"; the final
            decision = self._start(self._listen(audio, words))  # does not: the audio decides
        if decision is None:  # the words decided before the model was asked
            return bound
        probability, prosody, asked = await decision
        if not asked:  # the guess's words and the prosody settled it without the model
            settled = self._settled(words, prosody)
            if settled is not None:  # and so do the final's
                return settled
            probability = await self._probability(audio)
        if probability is not None:
            cued = None
            if self._cues is not None:
                last = self._model.sentence_end_probability(last_word(words))
                cued = self._cues.probability(probability, ends, last, prosody)
            if cued is not None:
                probability = cued
            elif bound is not None:
                probability = min(probability, bound)
        return probability

    async def drain(self) -> None:
        """Wait for the decisions under way."""
        while True:
            pending: list[asyncio.Future[Any]] = [t for t in self._tasks if not t.done()]
            early = self._early[1] if self._early is not None else None
            if early is not None and not early.done():
                pending.append(early)
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        tasks: list[asyncio.Task[Any]] = list(self._tasks)
        if self._early is not None and self._early[1] is not None:
            tasks.append(self._early[1])
        self._early = None
        for future, _ in self._awaiting_text:
            future.cancel()
        self._awaiting_text.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _bound(words: str, ends: float | None) -> float | None:
    """`words_bound`, given the language model's P(end of sentence) after `words`."""
    if ends is not None and ends < TEXT_END_MIN:
        return ends
    return 0.0 if ends_mid_sentence(words) else None
