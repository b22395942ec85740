"""A cluster of openreplica nodes: node registry and placement (`Coordinator`), the
pipes a node relays a connection through to the conversation's owner (`Pipes`) and each
live conversation's event stream (`EventStreams`).

Two backends behind the same narrow interfaces: in memory (one process, the default) and
Redis (any number of nodes). This package never imports the server; the server wires it.
"""

from openreplica.cluster.cancellation import raise_if_cancelled
from openreplica.cluster.coordinator import Coordinator, NodeStatus
from openreplica.cluster.events import EventStreams, NotOwner, OwnerChanged, StaleAppend
from openreplica.cluster.memory import LocalCoordinator, LocalPipes
from openreplica.cluster.pipes import Pipe, PipeClosed, PipeOpen, Pipes
from openreplica.cluster.redis_backend import RedisCoordinator, RedisEventStreams, RedisPipes

__all__ = [
    "Coordinator",
    "EventStreams",
    "LocalCoordinator",
    "LocalPipes",
    "NodeStatus",
    "NotOwner",
    "OwnerChanged",
    "Pipe",
    "PipeClosed",
    "PipeOpen",
    "Pipes",
    "RedisCoordinator",
    "RedisEventStreams",
    "RedisPipes",
    "StaleAppend",
    "raise_if_cancelled",
]
