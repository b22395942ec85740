"""The user's side of turn-taking: speech segments, transcripts and the end of a turn.

A turn ends once the user has been silent for the pause the sensitivity sets *and* the
recogniser has delivered the final transcript of every speech segment; speaking again
during the pause continues the same turn. With the end-of-turn model the pause is the
level's floor when the model calls the turn complete, else its cap. A dropped segment
(a backchannel under the replica's speech) still waits for its final, whose text is then
ignored.
"""

from __future__ import annotations

from openreplica.engine.phases import USER_TURN, Listening, ListeningEvent
from openreplica.engine.turn_stats import TurnDecider


class UserTurn:
    def __init__(self) -> None:
        # Kept as plain attributes; `reset` re-runs this to start the next turn clean.
        self.phase = Listening.IDLE
        #: when the pause runs out (set in `Listening.PAUSED` only)
        self.silence_deadline: float | None = None
        self._started_at = 0.0
        # one flag per ended segment still waiting for its final: keep its text?
        self._keep: list[bool] = []
        self._finals: list[str] = []
        self._partial = ""
        self._content_index = 0
        #: the current pause: media time of the speech end it follows, and `now` then
        self.pause_media_time: float | None = None
        self.pause_started = 0.0
        #: what set the silence deadline: the model ("complete") or a silence timer
        self.decided_by: TurnDecider = "silence"
        #: speaking, but the VAD heard a first silent frame (the end may be coming)
        self.pausing = False

    def start(self, media_time: float) -> bool:
        """Speech started; False if it was already going (a repeated edge)."""
        if self.phase is Listening.SPEAKING:
            return False
        self._fire(ListeningEvent.START)
        self._started_at = media_time
        self.silence_deadline = None
        self.pause_media_time = None
        self.decided_by = "silence"
        self.pausing = False
        return True

    def end(self, media_time: float) -> float | None:
        """Speech ended; returns its duration, or None if it was not going."""
        if self.phase is not Listening.SPEAKING:
            return None
        self._fire(ListeningEvent.END)
        self.pausing = False
        self._keep.append(True)
        return max(0.0, media_time - self._started_at)

    def drop_last_segment(self) -> None:
        """The segment that just ended does not count: its final's text is dropped."""
        if self._keep:
            self._keep[-1] = False

    def add_final(self, text: str) -> None:
        keep = self._keep.pop(0) if self._keep else True
        if keep and text.strip():
            self._finals.append(text.strip())
        self._partial = ""

    def add_partial(self, text: str) -> str:
        """Record a partial transcript; returns the turn's speech so far."""
        self._partial = text.strip()
        return " ".join([*self._finals, self._partial]).strip()

    def pause_began(self, media_time: float, now: float, deadline: float) -> None:
        self.pause_media_time = media_time
        self.pause_started = now
        self.silence_deadline = deadline
        self.decided_by = "silence"

    def wait_until(self, deadline: float) -> None:
        """The pause goes on until `deadline`, decided by silence after all."""
        self._fire(ListeningEvent.WAIT)
        self.silence_deadline = deadline
        self.decided_by = "silence"

    @property
    def speaking(self) -> bool:
        return self.phase is Listening.SPEAKING

    @property
    def in_pause(self) -> bool:
        """Silent after speech, the turn not committed yet."""
        return self.phase is Listening.PAUSED or self.phase is Listening.ELAPSED

    @property
    def finals_in(self) -> bool:
        """Every ended segment has its final transcript."""
        return not self._keep

    def silence_elapsed(self) -> None:
        self._fire(ListeningEvent.ELAPSE)
        self.silence_deadline = None

    @property
    def ready_to_commit(self) -> bool:
        return self.phase is Listening.ELAPSED and not self._keep

    @property
    def streamed(self) -> bool:
        """Partial transcripts of this turn were streamed."""
        return self._content_index > 0

    def next_content_index(self) -> int:
        index = self._content_index
        self._content_index += 1
        return index

    @property
    def transcript(self) -> str:
        return " ".join(self._finals).strip()

    @property
    def heard_so_far(self) -> str | None:
        """What a reply prepared now would answer: the finals, and the latest partial of
        a segment whose final is on its way (or that is pausing, its end not confirmed);
        None while such a segment has no words yet."""
        if self.finals_in and not (self.pausing and self.speaking):
            return self.transcript
        if not self._partial:
            return None
        return " ".join([*self._finals, self._partial]).strip()

    def reset(self) -> None:
        """Forget this turn (it was committed or was only noise)."""
        self._fire(ListeningEvent.COMMIT)
        self.__init__()  # type: ignore[misc]

    def _fire(self, event: ListeningEvent) -> None:
        self.phase = USER_TURN.fire(self.phase, event)
