"""A cluster node that stops (SIGTERM) hands its conversations to the other nodes.

For each conversation placed on this node, within `HANDOVER_BOUND` seconds in all:

0. a pause of `NOTICE` seconds first (the conversations go on meanwhile): nodes told to
   stop together (the supervisor of `--workers` stopping every worker, a whole
   deployment stopped) mark themselves draining within it, so that they are not offered
   each other's conversations (one that is anyway refuses: it drains);
1. the plan (`plan_handover`): the live, non-draining other nodes with room, least
   loaded first, each conversation counted on the node it is dealt to so that they
   spread; the others follow as fallbacks;
2. a live conversation is halted here (`ConversationHub.halt`): its runtime stops where
   it is, its events and LLM state are stored and in its event stream; nobody may join
   it here any more;
3. it is offered to its target (`offer`: `POST /cluster/v1/conversations/{id}/adopt` on
   the target's node URL). The target moves it to itself (compare-and-set on
   `node_id`) and runs it from the saved state exactly as after a takeover
   (server/takeover.py, `hub.adopt`): a reply cut by the halt ends as an interruption
   with the words heard, `seq` goes on after the last one, relays move on the stream's
   owner mark. A target that refuses (full, draining, another node moved it) is followed
   by the next one;
4. once it runs elsewhere, its participants here are closed with 1012 (`MOVED`) and
   resume by `last_seq` through any node (`hub.moved_away`).

When no node takes it (none has room, or every offer failed) it ends as before the
drain existed: a live one with `system.shutdown` `server_shutdown` and its webhooks
(`end_live` when it was not halted yet, `end_halted` from its stored state when it was);
a conversation nobody joined yet is left placed here, for the node that sweeps it up
once this one left the registry. One log line per conversation says which.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from openreplica.cluster import NodeStatus
from openreplica.runtime import Clock

log = logging.getLogger(__name__)

__all__ = [
    "HANDOVER_BOUND",
    "NOTICE",
    "OFFER_TIMEOUT",
    "DrainLinks",
    "Outcome",
    "hand_over_all",
    "plan_handover",
]

#: seconds the handovers of a draining node take at most, in all; what is left then
#: ends as `server_shutdown` (server/graceful.py: `SHUTDOWN_CLOSE_GRACE` more)
HANDOVER_BOUND = 5.0
#: seconds one target has to take one conversation (it restores it before answering)
OFFER_TIMEOUT = 3.0
#: conversations handed over at once
PARALLEL = 4
#: seconds the drain waits before it plans, for nodes stopped at the same time to mark
#: themselves draining (each does so as its stop begins, within ~0.1 s of the signal)
NOTICE = 0.5


class Outcome(Enum):
    HANDED_OVER = "handed over"
    ENDED = "ended"
    #: nobody joined it yet: left placed here; a node that sweeps takes it up
    LEFT = "left for the sweep"


@dataclass(frozen=True)
class DrainLinks:
    """What the drain needs from its node and hub (injected: the unit tests fake it)."""

    node_id: str
    clock: Clock
    #: the live nodes (the registry)
    nodes: Callable[[], Awaitable[list[NodeStatus]]]
    #: the active conversations placed on this node
    hosted: Callable[[], Awaitable[list[str]]]
    #: whether the conversation runs live here (its runtime is built)
    is_live: Callable[[str], bool]
    #: stop it here without ending it; False when it cannot move (end it instead)
    halt: Callable[[str], Awaitable[bool]]
    #: offer it to a node: True when that node moved it to itself (and runs it, or
    #: ended it when it could not); False when it refused. May raise (unreachable)
    offer: Callable[[NodeStatus, str], Awaitable[bool]]
    #: the node it is placed on now; None when it is no longer active
    placed_on: Callable[[str], Awaitable[str | None]]
    #: end a halted conversation from its stored state (`server_shutdown`)
    end_halted: Callable[[str], Awaitable[None]]
    #: end a live conversation as a stopping server does (`server_shutdown`)
    end_live: Callable[[str], Awaitable[None]]
    #: its participants here are told to reconnect (it runs elsewhere or has ended)
    moved_away: Callable[[str], None]


@dataclass
class _Report:
    outcomes: dict[str, tuple[Outcome, str | None]] = field(default_factory=dict)


def _ratio(node: NodeStatus, load: int) -> float:
    return load / node.capacity if node.capacity else 0.0


def plan_handover(
    me: str, nodes: list[NodeStatus], conversations: list[str]
) -> dict[str, list[NodeStatus]]:
    """For each conversation, the nodes to offer it to, in order: the least-loaded
    live, non-draining other node with room first (each conversation counted on the node
    it is dealt to, so that they spread), then the others with room then, as fallbacks.
    An empty list: no node has room."""
    takers = [n for n in nodes if n.node_id != me and not n.draining]
    load = {n.node_id: n.load for n in takers}
    plan: dict[str, list[NodeStatus]] = {}
    for cid in conversations:
        room = [n for n in takers if n.capacity == 0 or load[n.node_id] < n.capacity]
        room.sort(key=lambda n: (_ratio(n, load[n.node_id]), load[n.node_id], n.node_id))
        plan[cid] = room
        if room:
            load[room[0].node_id] += 1
    return plan


async def hand_over_all(
    links: DrainLinks, bound: float = HANDOVER_BOUND, notice: float = NOTICE
) -> dict[str, tuple[Outcome, str | None]]:
    """Hand every conversation placed here to another node, within `bound` seconds (and
    one last end for those halted when it passed; `notice` included); returns each one's
    outcome and, when handed over, its new node."""
    deadline = links.clock.now() + bound
    if not await links.hosted():
        return {}
    await links.clock.sleep_until(links.clock.now() + notice)
    hosted = await links.hosted()
    plan = plan_handover(links.node_id, await links.nodes(), sorted(hosted))
    report = _Report()
    gate = asyncio.Semaphore(PARALLEL)

    async def one(cid: str) -> None:
        async with gate:
            started = links.clock.now()
            try:
                outcome, where = await _hand_over(links, cid, plan[cid], deadline)
            except Exception:
                log.exception("%s: handing it over failed", cid)
                outcome, where = Outcome.ENDED, None
                await _end(links, cid, halted=False)
            report.outcomes[cid] = (outcome, where)
            took = links.clock.now() - started
            if outcome is Outcome.HANDED_OVER:
                log.warning("%s: node draining; handed over to %s in %.3f s", cid, where, took)
            elif outcome is Outcome.LEFT:
                log.warning("%s: node draining; nobody joined it: left for another node", cid)
            else:
                log.warning("%s: node draining; no node could take it: ended", cid)

    await asyncio.gather(*(one(cid) for cid in plan))
    return report.outcomes


async def _hand_over(
    links: DrainLinks, cid: str, targets: list[NodeStatus], deadline: float
) -> tuple[Outcome, str | None]:
    live = links.is_live(cid)
    if not targets or links.clock.now() >= deadline:
        return await _no_taker(links, cid, live, halted=False)
    halted = False
    if live:
        halted = await links.halt(cid)
        if not halted:  # it cannot move (not joined yet, ending, recorded here)
            await links.end_live(cid)
            return Outcome.ENDED, None
    for target in targets:
        remaining = deadline - links.clock.now()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(min(OFFER_TIMEOUT, remaining)):
                if await links.offer(target, cid):
                    if halted:
                        links.moved_away(cid)
                    return Outcome.HANDED_OVER, target.node_id
        except Exception as exc:  # unreachable or too slow: did it take it anyway?
            log.warning("%s: offering it to %s failed (%r)", cid, target.node_id, exc)
            placed = await links.placed_on(cid)
            if placed is None or placed != links.node_id:
                if halted:
                    links.moved_away(cid)
                return Outcome.HANDED_OVER, placed
    return await _no_taker(links, cid, live, halted)


async def _no_taker(
    links: DrainLinks, cid: str, live: bool, halted: bool
) -> tuple[Outcome, str | None]:
    if not live and not halted:
        return Outcome.LEFT, None
    await _end(links, cid, halted)
    return Outcome.ENDED, None


async def _end(links: DrainLinks, cid: str, halted: bool) -> None:
    if halted:
        await links.end_halted(cid)
        links.moved_away(cid)
    else:
        await links.end_live(cid)
