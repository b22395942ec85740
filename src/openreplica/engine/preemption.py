"""A preemptive reply: generated at the user's first pause, before the turn commits.

It is a normal `Generation` the engine keeps aside: its LLM call and its first segment's
synthesis run at once, everything else it would do (further sentences, playout) is held.
Nothing of it reaches clients or the LLM context until the turn commits with exactly the
context it was started on (`messages`); then the held effects are released and it becomes
the current generation. Otherwise it is cancelled and counted as wasted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openreplica.engine.generation import Generation
from openreplica.engine.io import ContextMessage, Effect, Synthesize

#: segments synthesised before the turn commits (the rest wait: they may be wasted);
#: the first is a reply's first two words (`EngineSettings.first_segment_words`)
SENTENCES_AHEAD = 1


@dataclass(slots=True)
class Preemption:
    gen: Generation
    #: the LLM context it was started on, the user's pending words included
    messages: tuple[ContextMessage, ...]
    held: list[Effect] = field(default_factory=list)

    def hold(self, effects: list[Effect]) -> list[Effect]:
        """Keep what must wait for the commit; return what may run now."""
        run_now: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Synthesize) and effect.segment < SENTENCES_AHEAD:
                run_now.append(effect)
            else:
                self.held.append(effect)
        return run_now
