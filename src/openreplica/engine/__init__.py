"""One conversation's turn-taking state machine: pure, clock-free.

Feed it typed inputs with `now`; it returns effects. See `engine.py` for the rules.
"""

from openreplica.engine.engine import ConversationEngine
from openreplica.engine.settings import (
    INTERRUPT_MIN_SPEECH,
    PAUSE_SILENCE,
    EngineSettings,
    PipelineMode,
    SpeechLimits,
    TurnTaking,
)

__all__ = [
    "INTERRUPT_MIN_SPEECH",
    "PAUSE_SILENCE",
    "ConversationEngine",
    "EngineSettings",
    "PipelineMode",
    "SpeechLimits",
    "TurnTaking",
]
