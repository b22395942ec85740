"""The asyncio shell around the engine: clock, playout, plugins, subscribers."""

from openreplica.runtime.clock import Clock, SystemClock, VirtualClock, settle
from openreplica.runtime.guard import INTERNAL_ERROR
from openreplica.runtime.playout import FRAME_SECONDS, AudioSink, Playout
from openreplica.runtime.session import ConversationRuntime, Listener, Reply, RuntimePlugins

__all__ = [
    "FRAME_SECONDS",
    "INTERNAL_ERROR",
    "AudioSink",
    "Clock",
    "ConversationRuntime",
    "Listener",
    "Playout",
    "Reply",
    "RuntimePlugins",
    "SystemClock",
    "VirtualClock",
    "settle",
]
