"""One conversation's turn-taking state machine: pure, clock-free.

Feed it typed inputs with `now`; it returns effects. See `engine.py` for the rules.
"""

from openreplica.engine.engine import ConversationEngine
from openreplica.engine.settings import (
    COMPLETE_PROBABILITY,
    INTERRUPT_MIN_SPEECH,
    PAUSE_SILENCE,
    TURN_WAIT,
    EngineSettings,
    PipelineMode,
    SpeechLimits,
    TurnDetector,
    TurnTaking,
    TurnWait,
)
from openreplica.engine.turn_stats import TurnStats

__all__ = [
    "COMPLETE_PROBABILITY",
    "INTERRUPT_MIN_SPEECH",
    "PAUSE_SILENCE",
    "TURN_WAIT",
    "ConversationEngine",
    "EngineSettings",
    "PipelineMode",
    "SpeechLimits",
    "TurnDetector",
    "TurnStats",
    "TurnTaking",
    "TurnWait",
]
