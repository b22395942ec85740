"""The asyncio shell around the engine: clock, playout, plugins, subscribers."""

from openreplica.runtime.clock import Clock, SystemClock, VirtualClock, settle
from openreplica.runtime.guard import INTERNAL_ERROR
from openreplica.runtime.observer import NULL_OBSERVER, NullObserver, Observers, RuntimeObserver
from openreplica.runtime.playout import FRAME_SECONDS, AudioSink, Playout
from openreplica.runtime.session import ConversationRuntime, Listener, Reply, RuntimePlugins

__all__ = [
    "FRAME_SECONDS",
    "INTERNAL_ERROR",
    "NULL_OBSERVER",
    "AudioSink",
    "Clock",
    "ConversationRuntime",
    "Listener",
    "NullObserver",
    "Observers",
    "Playout",
    "Reply",
    "RuntimeObserver",
    "RuntimePlugins",
    "SystemClock",
    "VirtualClock",
    "settle",
]
