"""A draining node's handovers (server/drain.py) against a fake node and hub: the plan
spreads conversations over the least-loaded nodes with room; each live conversation is
halted, offered in order, and handed over, or ended when nobody takes it; conversations
nobody joined are left for the sweep; the whole drain keeps its bound."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from openreplica.cluster import NodeStatus
from openreplica.runtime import SystemClock
from openreplica.server.drain import DrainLinks, Outcome, hand_over_all, plan_handover


def _node(node_id: str, load: int, capacity: int = 4, draining: bool = False) -> NodeStatus:
    return NodeStatus(node_id, f"http://{node_id}", capacity, load=load, draining=draining)


def test_the_plan_deals_conversations_to_the_least_loaded_nodes_with_room() -> None:
    nodes = [
        _node("me", 3),
        _node("a", 2),
        _node("b", 0),
        _node("full", 4),
        _node("leaving", 0, draining=True),
    ]
    plan = plan_handover("me", nodes, ["c1", "c2", "c3"])
    firsts = [plan[c][0].node_id for c in ("c1", "c2", "c3")]
    assert firsts == ["b", "b", "a"]  # b: 0/4, 1/4, then a at 2/4 ties b at 2/4 by load, id
    assert [n.node_id for n in plan["c1"]] == ["b", "a"]  # the fallback follows
    for targets in plan.values():  # never itself, a full node or a draining one
        assert {n.node_id for n in targets} <= {"a", "b"}


def test_the_plan_is_empty_when_no_other_node_has_room() -> None:
    nodes = [_node("me", 1), _node("a", 1, capacity=1), _node("b", 0, draining=True)]
    assert plan_handover("me", nodes, ["c1"]) == {"c1": []}
    # a node with room for one takes one; the second conversation has nowhere to go
    plan = plan_handover("me", [_node("me", 2), _node("a", 0, capacity=1)], ["c1", "c2"])
    assert [n.node_id for n in plan["c1"]] == ["a"] and plan["c2"] == []


@dataclass
class FakeCluster:
    """One draining node "me" and its view of the others."""

    nodes: list[NodeStatus]
    live: set[str]
    hosted: list[str]
    #: node -> what its offers answer (True: took it; False: refused; an exception)
    answers: dict[str, bool | Exception] = field(default_factory=dict)
    #: conversations that cannot move (not joined yet…)
    stuck: set[str] = field(default_factory=set)
    #: conversation -> node it is placed on (the store)
    placed: dict[str, str] = field(default_factory=dict)
    offer_delay: float = 0.0
    journal: list[tuple[str, str]] = field(default_factory=list)

    def links(self) -> DrainLinks:
        async def nodes() -> list[NodeStatus]:
            return self.nodes

        async def hosted() -> list[str]:
            return self.hosted

        async def halt(cid: str) -> bool:
            self.journal.append(("halt", cid))
            return cid not in self.stuck

        async def offer(target: NodeStatus, cid: str) -> bool:
            self.journal.append((f"offer {target.node_id}", cid))
            await asyncio.sleep(self.offer_delay)
            answer = self.answers.get(target.node_id, True)
            if isinstance(answer, Exception):
                raise answer
            if answer:
                self.placed[cid] = target.node_id
            return answer

        async def placed_on(cid: str) -> str | None:
            return self.placed.get(cid, "me")

        async def end_halted(cid: str) -> None:
            self.journal.append(("end halted", cid))

        async def end_live(cid: str) -> None:
            self.journal.append(("end live", cid))

        def moved_away(cid: str) -> None:
            self.journal.append(("moved away", cid))

        return DrainLinks(
            node_id="me",
            clock=SystemClock(),
            nodes=nodes,
            hosted=hosted,
            is_live=lambda cid: cid in self.live,
            halt=halt,
            offer=offer,
            placed_on=placed_on,
            end_halted=end_halted,
            end_live=end_live,
            moved_away=moved_away,
        )


async def test_a_live_conversation_is_halted_offered_and_its_participants_moved() -> None:
    cluster = FakeCluster([_node("me", 1), _node("a", 0)], live={"c1"}, hosted=["c1"])
    outcomes = await hand_over_all(cluster.links(), notice=0.0)
    assert outcomes == {"c1": (Outcome.HANDED_OVER, "a")}
    assert cluster.journal == [("halt", "c1"), ("offer a", "c1"), ("moved away", "c1")]


async def test_a_refusing_or_unreachable_target_is_followed_by_the_next() -> None:
    nodes = [_node("me", 2), _node("a", 0), _node("b", 1), _node("c", 2)]
    cluster = FakeCluster(
        nodes,
        live={"c1"},
        hosted=["c1"],
        answers={"a": False, "b": ConnectionError("refused")},
    )
    outcomes = await hand_over_all(cluster.links(), notice=0.0)
    assert outcomes == {"c1": (Outcome.HANDED_OVER, "c")}
    offers = [what for what, _ in cluster.journal if what.startswith("offer")]
    assert offers == ["offer a", "offer b", "offer c"]


async def test_an_offer_that_failed_after_the_target_took_it_counts_as_handed_over() -> None:
    cluster = FakeCluster([_node("me", 1), _node("a", 0)], live={"c1"}, hosted=["c1"])
    cluster.placed["c1"] = "a"  # it moved, but the answer was lost
    cluster.answers["a"] = TimeoutError()
    assert await hand_over_all(cluster.links(), notice=0.0) == {"c1": (Outcome.HANDED_OVER, "a")}
    assert ("end halted", "c1") not in cluster.journal


async def test_with_no_room_anywhere_live_conversations_end_and_unjoined_ones_are_left() -> None:
    nodes = [_node("me", 3), _node("a", 1, capacity=1), _node("b", 0, draining=True)]
    cluster = FakeCluster(nodes, live={"c1", "c2"}, hosted=["c1", "c2", "c3"])
    outcomes = await hand_over_all(cluster.links(), notice=0.0)
    assert outcomes == {
        "c1": (Outcome.ENDED, None),
        "c2": (Outcome.ENDED, None),
        "c3": (Outcome.LEFT, None),
    }
    # ended as before the drain existed: never halted, never offered
    assert sorted(cluster.journal) == [("end live", "c1"), ("end live", "c2")]


async def test_a_halted_conversation_nobody_takes_ends_from_its_state_and_moves_its_clients() -> (
    None
):
    nodes = [_node("me", 1), _node("a", 0), _node("b", 0)]
    cluster = FakeCluster(
        nodes, live={"c1"}, hosted=["c1"], answers={"a": False, "b": ConnectionError("down")}
    )
    assert await hand_over_all(cluster.links(), notice=0.0) == {"c1": (Outcome.ENDED, None)}
    assert cluster.journal[-2:] == [("end halted", "c1"), ("moved away", "c1")]


async def test_a_conversation_that_cannot_move_ends_as_before() -> None:
    cluster = FakeCluster([_node("me", 1), _node("a", 0)], live={"c1"}, hosted=["c1"], stuck={"c1"})
    assert await hand_over_all(cluster.links(), notice=0.0) == {"c1": (Outcome.ENDED, None)}
    assert cluster.journal == [("halt", "c1"), ("end live", "c1")]


async def test_an_unjoined_conversation_is_offered_without_a_halt() -> None:
    cluster = FakeCluster([_node("me", 1), _node("a", 0)], live=set(), hosted=["c1"])
    assert await hand_over_all(cluster.links(), notice=0.0) == {"c1": (Outcome.HANDED_OVER, "a")}
    assert cluster.journal == [("offer a", "c1")]


async def test_the_drain_keeps_its_bound_when_targets_hang() -> None:
    hosted = [f"c{i}" for i in range(6)]
    cluster = FakeCluster(
        [_node("me", 6), _node("a", 0, capacity=0)], live=set(hosted), hosted=hosted
    )
    cluster.offer_delay = 30.0  # the target never answers in time
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcomes = await hand_over_all(cluster.links(), bound=0.3, notice=0.0)
    took = loop.time() - started
    assert took < 1.5, f"the drain took {took:.2f} s"
    assert {o for o, _ in outcomes.values()} == {Outcome.ENDED}
    ended = {cid for what, cid in cluster.journal if what.startswith("end")}
    assert ended == set(hosted)


async def test_a_node_that_starts_draining_during_the_notice_is_offered_nothing() -> None:
    cluster = FakeCluster(
        [_node("me", 1), _node("a", 0), _node("b", 1)], live={"c1"}, hosted=["c1"]
    )

    def a_stops_too() -> None:  # told to stop at the same time, marked a little later
        cluster.nodes[1] = _node("a", 0, draining=True)

    asyncio.get_running_loop().call_later(0.05, a_stops_too)
    outcomes = await hand_over_all(cluster.links(), notice=0.2)
    assert outcomes == {"c1": (Outcome.HANDED_OVER, "b")}
    assert ("offer a", "c1") not in cluster.journal
